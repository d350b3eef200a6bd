%% @doc Every budget a probe has, named once, with its default.
%%
%% The safety model (mirrored in the README's "Safety" section):
%%
%%   * A probe stops itself when any budget is spent: `limit' events, `time_ms' of life, a `rate' of
%%     events per second, a `buffer' of events held on the node waiting for the kernel, its tracer's
%%     `mailbox' length, or its tracer's `memory'. It stops ONCE, removes exactly the trace patterns and
%%     flags it set (never anyone else's, never "all"), and never re-arms itself. Its last status says
%%     which budget ended it and the figures.
%%   * The tracer does the least possible work: it only receives and hands trace messages on in chunks. Pairing
%%     calls with returns, cutting big terms, naming processes and encoding batches happen in a separate
%%     collector process, off the traced path.
%%   * A term larger than `max_term_bytes' (an argument list, a result, a message) is cut on the node: the
%%     row keeps a marker `{lumin_cut, OriginalBytes, Prefix}' instead. A big term never stops a probe.
%%   * Events the node could not ship (the kernel was slower than the node) are dropped and counted exactly;
%%     the count travels with the next batch and is shown beside the table.
%%   * Nothing typed by a user becomes an atom here: modules and functions arrive as binaries and are
%%     resolved with binary_to_existing_atom/2; a name that is no atom yet names nothing loaded.
-module(lumin_budget).
-export([defaults/0, resolve/1, tick_ms/0, max_term_bytes/0, max_batches_in_flight/0,
         batch_rows/0]).

-type budget() :: #{limit := pos_integer(), time_ms := pos_integer(), rate := number(),
                    buffer := pos_integer(), mailbox := pos_integer(), memory := pos_integer()}.
-export_type([budget/0]).

%% @doc The defaults: 10,000 events, 60 s, 10,000 events/s, 200,000 events buffered, a tracer mailbox of
%% 100,000 messages and a tracer heap of 200 MB.
-spec defaults() -> budget().
defaults() ->
    #{limit => 10000,
      time_ms => 60000,
      rate => 10000,
      buffer => 200000,
      mailbox => 100000,
      memory => 200 * 1024 * 1024}.

%% @doc The budget for a spec: the user's figures where given (positive numbers only), defaults elsewhere.
-spec resolve(map()) -> budget().
resolve(Spec) ->
    maps:map(fun(Key, Default) ->
                     case maps:get(Key, Spec, undefined) of
                         N when is_number(N), N > 0 -> N;
                         _ -> Default
                     end
             end, defaults()).

%% @doc How often budgets are checked and status is reported, in ms.
tick_ms() -> 250.
%% @doc Largest term kept whole in a row, in bytes of external format.
max_term_bytes() -> 4096.
%% @doc Batches sent to the bridge and not yet acknowledged, past which events are dropped and counted.
max_batches_in_flight() -> 16.
%% @doc Rows per batch: a batch goes as soon as this many rows wait (and on ticks), so the kernel decodes
%% batches while the node still collects; more wait only while too many batches are unacknowledged.
batch_rows() -> 5000.

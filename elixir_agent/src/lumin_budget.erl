%% @doc Every budget a probe has, named once, with its default.
%%
%% The safety model (mirrored in the README's "Safety" section):
%%
%%   * A probe stops itself when any budget is spent: `limit' events, `time_ms' of life, a `rate' of
%%     events per second, a `buffer' of events held on the node waiting for the kernel, its tracer's
%%     `mailbox' length, or its tracer's `memory'. It stops ONCE, removes exactly the trace patterns and
%%     flags it set (never anyone else's, never "all"), and never re-arms itself. Its last status says
%%     which budget ended it and the figures.
%%   * Over all probes, one node-wide memory budget (node_memory/0) counts every agent process that holds
%%     events, the trace messages and events waiting in their mailboxes and the binaries they hold; past it,
%%     lumin_guard ends the probe whose processes hold the most — only that one.
%%   * Rate and mailbox budgets are enforced by a watchdog process per probe (lumin_probe) that a flood cannot
%%     delay; it judges the shared tracer's backlog only while its probe is getting events, so a flood ends the
%%     probe that causes it, not its idle neighbours; `--for' is enforced there too, so it holds under a flood.
%%   * The tracer does the least possible work: it only receives, cuts big terms where they arrive (in
%%     O(cut size), whatever the term's size) and hands trace messages on in chunks. Pairing calls with
%%     returns, naming processes and encoding batches happen in each probe's own process, off the traced
%%     path. A call probe with `no_result' does not ask the VM for return values at all.
%%   * A term larger than `cut_bytes' (an argument list, a result, a message, a state) is cut on the node:
%%     the row keeps a marker `{lumin_cut, Bytes, Prefix}' instead. A big term never stops a probe.
%%   * Events the node could not ship (the kernel was slower than the node) are dropped and counted exactly;
%%     the count travels with the next batch and is shown beside the table.
%%   * A user may raise limit, rate and time up to safe_max/0; beyond it the spec must say `unsafe'. The
%%     node-wide memory budget holds whatever the flags.
%%   * Nothing typed by a user becomes an atom here: modules and functions arrive as binaries and are
%%     resolved with binary_to_existing_atom/2; a name that is no atom yet names nothing loaded.
-module(lumin_budget).
-export([defaults/0, resolve/1, tick_ms/0, max_term_bytes/0, max_batches_in_flight/0,
         batch_rows/0, node_memory/0, traced_term_max/0, safe_max/0, cut_bytes/1, state_share/0]).

-type budget() :: #{limit := pos_integer(), time_ms := pos_integer(), rate := number(),
                    buffer := pos_integer(), mailbox := pos_integer(), memory := pos_integer()}.
-export_type([budget/0]).

%% @doc The defaults: 10,000 events, 60 s, 20,000 events/s (a broker at ~10k messages/s fits, twice over),
%% 200,000 events buffered, a tracer mailbox of 100,000 messages and 100 MB for one probe's tracer or process
%% (a traced reply `{reply, State, State}' of a 40 MB state arrives as an 80 MB trace message: the VM's copy
%% does not keep the sharing).
-spec defaults() -> budget().
defaults() ->
    #{limit => 10000,
      time_ms => 60000,
      rate => 20000,
      buffer => 200000,
      mailbox => 100000,
      memory => 100 * 1024 * 1024}.

%% @doc The most a user may ask for without `unsafe': 1,000,000 events, 1 hour, 100,000 events/s.
safe_max() ->
    #{limit => 1000000, time_ms => 3600000, rate => 100000}.

%% @doc The node-wide memory budget over every agent process and the events queued for them: 120 MB (one
%% 80 MB trace message in flight passes; two at once end the probe that holds them).
node_memory() -> 120 * 1024 * 1024.

%% @doc The budget for a spec: the user's figures where given (positive numbers only), defaults elsewhere.
%% Figures above safe_max/0 are refused unless the spec says `unsafe' => true.
-spec resolve(map()) -> budget().
resolve(Spec) ->
    Unsafe = maps:get(unsafe, Spec, false) =:= true,
    Max = safe_max(),
    maps:map(fun(Key, Default) ->
                     case maps:get(Key, Spec, undefined) of
                         N when is_number(N), N > 0 ->
                             case maps:get(Key, Max, infinity) of
                                 M when is_number(M), N > M, not Unsafe ->
                                     throw({error, io_lib:format("~ts ~ts is above the safe range (at most ~ts); add --unsafe to "
                                                                 "allow it: the node-wide memory budget still holds, but the probe "
                                                                 "may cost the node that much more work", [flag(Key), figure(Key, N), figure(Key, M)])});
                                 _ -> N
                             end;
                         _ -> Default
                     end
             end, defaults()).

flag(limit) -> "--limit";
flag(time_ms) -> "--for";
flag(rate) -> "--rate".

figure(time_ms, N) -> io_lib:format("~bs", [round(N / 1000)]);
figure(rate, N) -> io_lib:format("~b/s", [round(N)]);
figure(_, N) -> io_lib:format("~b", [round(N)]).

%% @doc A spec's cut size: `cut_bytes' when given (64 B to 1 MB), else max_term_bytes/0.
cut_bytes(Spec) ->
    case maps:get(cut_bytes, Spec, undefined) of
        N when is_integer(N), N >= 64, N =< 1048576 -> N;
        N when is_integer(N) -> throw({error, io_lib:format("--cut ~b is out of range: give 64 to 1048576 bytes", [N])});
        _ -> max_term_bytes()
    end.

%% @doc A call probe ends at once when one traced term (a result, an argument list) makes its tracer hold more
%% than this: 32 MB. The VM copies such a term whole into the trace message before anything can cut it, so the
%% next call must not be traced.
traced_term_max() -> 32 * 1024 * 1024.

%% @doc A state probe disarms itself when its hook takes more than this share of the watched process's time.
state_share() -> 0.05.

%% @doc How often budgets are checked and status is reported, in ms.
tick_ms() -> 250.
%% @doc Largest term kept whole in a row, in bytes (heap words x 8), unless a probe says `--cut'.
max_term_bytes() -> 4096.
%% @doc Batches sent to the bridge and not yet acknowledged, past which events are dropped and counted.
max_batches_in_flight() -> 16.
%% @doc Rows per batch: a batch goes as soon as this many rows wait (and on ticks), so the kernel decodes
%% batches while the node still collects; more wait only while too many batches are unacknowledged.
batch_rows() -> 5000.

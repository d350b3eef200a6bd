%% @doc What a call probe armed with `--summary' keeps instead of rows: per traced function, a latency sketch
%% (lumin_sketch: relative error Alpha, fixed memory bound) and a count of the calls that raised, for the
%% current interval. Every `every_ms' the interval's sketches are shipped and a new interval starts, so what
%% crosses the network is a few hundred bytes per function per interval, whatever the call rate.
%%
%% Intervals end on a grid of wall-clock time (multiples of `every_ms' since the epoch), so every node of a
%% cluster closes the same intervals and the kernel merges them by their end time without guessing.
%%
%% Which calls feed the sketches is lumin_sampler's: every call of a quiet function, a bounded share of a busy
%% one's; each function's exact count of calls (the VM's counter) is shipped beside its sketch, so the share
%% that fed it is known.
%%
%% This is the hook a call collector calls: add/2 for each completed call that was traced (in place of making
%% it a row), and due/1 + take/2 on a timer set for ms_to_next/1 (and on its ticks). It holds no process and
%% sends nothing.
-module(lumin_summary).
-export([new/2, add/2, due/1, take/2, ms_to_next/1, every_ms/1, alpha/1]).

%% next: the end of the current interval, in ms of system time.
-record(summary, {alpha :: float(), every_ms :: pos_integer(), next :: integer(),
                  %% MFA => {Sketch, Errors}
                  fns = #{} :: map()}).

%% @doc A summary of relative accuracy `Alpha' shipped every `EveryMs'.
new(Alpha, EveryMs) ->
    #summary{alpha = float(Alpha), every_ms = EveryMs, next = grid(os:system_time(millisecond), EveryMs)}.

grid(NowMs, E) -> (NowMs div E + 1) * E.

%% @doc Milliseconds until the current interval ends.
ms_to_next(#summary{next = Next}) -> max(0, Next - os:system_time(millisecond)).

every_ms(#summary{every_ms = E}) -> E.
alpha(#summary{alpha = A}) -> A.

%% @doc Fold one completed call, as the collector's row tuple {Pid, MFA, Depth, StartNs, EndNs, Outcome, Value,
%% Args}: its duration into its function's sketch; an exception (error, exit, throw) counted.
add({_, MFA, _, T0, T1, Outcome, _, _}, S = #summary{fns = Fns, alpha = A}) ->
    D = (T1 - T0) / 1000,
    Raised = case Outcome of
                 return -> 0;
                 undefined -> 0;
                 _ -> 1
             end,
    case Fns of
        #{MFA := {Sk, E}} -> S#summary{fns = Fns#{MFA := {lumin_sketch:add(Sk, D), E + Raised}}};
        _ -> S#summary{fns = Fns#{MFA => {lumin_sketch:add(lumin_sketch:new(A), D), Raised}}}
    end.

%% @doc Is the interval over?
due(#summary{next = Next}) -> os:system_time(millisecond) >= Next.

%% @doc The interval's sketches, every function that was called packed into one binary (lumin_summary_wire),
%% stamped with the interval's end (µs since the epoch), and the next interval. `Calls': each function's exact
%% calls in the interval (MFA => N, from lumin_sampler:take_calls/1), shipped beside the sketch's own count (the
%% calls that fed it); a function called in the interval whose calls none fed the sketch is shipped with an
%% empty one.
take(S = #summary{fns = Fns0, every_ms = E, next = Next, alpha = A}, Calls) ->
    Fns = maps:fold(fun(MFA, C, Acc) when C > 0, not is_map_key(MFA, Acc) -> Acc#{MFA => {lumin_sketch:new(A), 0}};
                       (_, _, Acc) -> Acc
                    end, Fns0, Calls),
    Sketches = lumin_summary_wire:pack([{MFA, Sk, Err, maps:get(MFA, Calls, 0)} || {MFA, {Sk, Err}} <- maps:to_list(Fns)]),
    {#{at_us => Next * 1000, every_ms => E, alpha => S#summary.alpha, sketches => Sketches},
     S#summary{fns = #{}, next = grid(max(Next, os:system_time(millisecond) - 1), E)}}.

%% @doc Which calls of a `--summary' probe feed its latency sketch, so that an always-on summary stays cheap
%% whatever the call rate. A traced call costs the node a few µs, almost all of it the VM making and sending
%% its two trace messages (see the README's Speed): no handling of the messages can cut that, only sending
%% fewer. So:
%%
%%   * Counts are exact and cost nearly nothing: the VM's own `call_count' counter on each function (every
%%     process's calls, the agent's own included), read when an interval ends.
%%   * Durations come from trace messages, taken in a bounded way. Every ?TICK ms the sampler reads each
%%     function's call_count: a function called at most `budget' times in the last tick is traced for the whole
%%     next tick (every call feeds the sketch: at the rates of a quiet function nothing is sampled); a busier
%%     one is traced for a window of the next tick sized so that about `budget' calls fall in it, at a random
%%     place in the tick (so no part of a tick is favoured), and untraced the rest of it; a window that traced
%%     k budgets' worth (the shortest is 1 ms, and the pattern takes a few ms to go on a busy node) is followed
%%     by k - 1 ticks without one (at most 9: a window at least once a second), so over time about `budget'
%%     calls a tick feed the sketch, or one window's worth a second where even the shortest is more. A burst is cut short
%%     too: every ?GUARD_MS ms (longer when many functions are traced, so reading their counters stays near
%%     0.1% of a core) the counters of the functions being traced are read, and one called twice its budget
%%     since its tracing began is untraced until the next tick. (The trace messages themselves reach the probe
%%     too late for that: under a burst the tracer's backlog is tens of ms long.) How many calls a burst traces
%%     before the cut takes effect is the node's to say: removing a pattern waits for every scheduler to pass
%%     a safe point, 5–15 ms on a loaded 2-core machine (some 10,000 calls of a trivial function in a tight
%%     loop).
%%
%% The sampler is a process of its own, at high priority, whose mailbox holds nothing but its own timers: in
%% the probe's, a tick would wait behind the very chunks of trace messages it is there to bound.
%%
%% Tracing a function on and off is setting and removing its trace pattern (about 15 µs of the node's CPU each,
%% a few dozen times a second for a busy function): with the pattern removed a call costs what an untraced one
%% does, plus the counter. While it is off the function stays this probe's (lumin_trace routes it here, and a
%% probe asking for it is refused); a pattern set meanwhile by another tool is never overwritten: that function
%% then stops feeding the sketch (its counts go on).
%%
%% The share of calls that fed the sketch is shipped with each interval (the summary table's `sampled'), so
%% what the percentiles stand for is never hidden. A tick's window is a sample by time, not a random sample of
%% calls: percentiles from it describe the whole only as far as latency does not depend on the moment within a
%% 100 ms tick.
-module(lumin_sampler).
-export([start/4, take_calls/1, stop/1, pid/1, refuse_if_counted/1, count/1, default_rate/0]).
-export([init/1]).

-define(TICK, 100).
-define(GUARD_MS, 5).
%% Ticks without a window after one that went past the budget, at most: a window at least once a second.
-define(MAX_SKIP, 1000 div ?TICK - 1).

%% What the probe keeps: the sampler's process, the functions, their call_count at the last interval's end
%% (taken), and the counts when the probe stopped (final).
-record(handle, {pid :: pid() | undefined, mfas :: [mfa()], taken :: map(), final = undefined :: map() | undefined}).

%% The sampler's process. budget: calls a tick that may feed the sketch, per function; stop: a counters ref
%% whose cell 1 is set once the probe stops tracing (by itself or by its watchdog: nothing is traced again
%% after); on: MFA => false, or its call_count when its pattern was set; last/last_at: call_count at the last
%% tick; gen: the tick number, which window messages carry; foreign: functions whose pattern another tool set
%% while ours was off; skip: MFA => ticks a busy function waits for its next window (its last one traced
%% that many budgets' worth).
-record(sampler, {mfas :: [mfa()], ms :: list(), budget :: pos_integer(), stop, on = #{} :: map(),
                  last = #{} :: map(), last_at :: integer(), gen = 0 :: non_neg_integer(), foreign = #{} :: map(),
                  skip = #{} :: map()}).

%% @doc Calls per second per function that feed the sketch at most, unless asked otherwise.
default_rate() -> 1000.

%% @doc A function another tool counts with call_count (cprof) is refused: its counter is not ours to reset.
refuse_if_counted(MFAs) ->
    [case erlang:trace_info(MFA, call_count) of
         {call_count, N} when is_integer(N) ->
             throw({error, [lumin_lib:fmt_mfa(MFA), " is already counted with call_count by another tool (cprof?); "
                            "ElixirLumin does not change tracing it did not set up"]});
         _ -> ok
     end || MFA <- MFAs],
    ok.

%% @doc Sampling for `MFAs', whose trace pattern `MS' is set (every call traced until the first tick); at most
%% `PerSecond' calls a second per function feed the sketch (10 or more: a tick's budget is a whole call).
%% Sets their call_count counters and starts the sampler's process.
start(MFAs, MS, PerSecond, Stop) ->
    [erlang:trace_pattern(MFA, true, [call_count]) || MFA <- MFAs],
    Now = read(MFAs),
    S = #sampler{mfas = MFAs, ms = MS, budget = max(1, round(PerSecond * ?TICK / 1000)), stop = Stop,
                 on = Now, last = Now, last_at = erlang:monotonic_time(millisecond)},
    Pid = proc_lib:spawn_link(?MODULE, init, [S]),
    #handle{pid = Pid, mfas = MFAs, taken = Now}.

%% @doc Each function's exact calls since the last interval ended (or the probe armed): MFA => N.
take_calls(H = #handle{mfas = MFAs, taken = Taken, final = F}) ->
    Now = case F of
              undefined -> read(MFAs);
              _ -> F
          end,
    {maps:from_list([{MFA, max(0, maps:get(MFA, Now) - maps:get(MFA, Taken, 0))} || MFA <- MFAs]), H#handle{taken = Now}}.

%% @doc The probe stopped tracing: the sampler's process ends (it traces nothing again), the counts are read a
%% last time and the counters removed. (The probe removes its trace patterns itself, after this.)
stop(H = #handle{final = undefined, pid = Pid, mfas = MFAs}) ->
    Ref = erlang:monitor(process, Pid),
    unlink(Pid),
    Pid ! {'$lumin', stop},
    receive {'DOWN', Ref, process, Pid, _} -> ok
    after 5000 -> exit(Pid, kill), receive {'DOWN', Ref, process, Pid, _} -> ok end
    end,
    Final = read(MFAs),
    [erlang:trace_pattern(MFA, false, [call_count]) || MFA <- MFAs],
    H#handle{final = Final, pid = undefined};
stop(H) -> H.

%% @doc The sampler's process (undefined once stopped).
pid(#handle{pid = P}) -> P.

%% @doc A function's call_count now (0 when it has none).
count(MFA) ->
    case erlang:trace_info(MFA, call_count) of
        {call_count, N} when is_integer(N) -> N;
        _ -> 0
    end.

%% ---- the sampler's process -------------------------------------------------------------------------

%% @private
init(S = #sampler{mfas = MFAs}) ->
    %% High priority: its few µs a tick must not wait behind the flooded processes it is there to spare.
    process_flag(priority, high),
    %% It runs no probed code, but the call flag set on every process reached it when it was spawned.
    _ = case erlang:trace_info(self(), tracer) of
            {tracer, T} when is_pid(T) -> catch erlang:trace(self(), false, [call, arity, monotonic_timestamp, return_to]);
            _ -> ok
        end,
    tick_after(?TICK),
    guard_after(length(MFAs)),
    loop(S).

loop(S) ->
    receive
        {'$lumin', stop} -> ok;
        {'$lumin', sample_tick} -> loop(tick(S));
        {'$lumin', sample_guard} -> loop(guard(S));
        {'$lumin', sample_window, MFA, Gen, On} -> loop(window(S, MFA, Gen, On));
        _ -> loop(S)
    end.

%% A tick: each function's calls in the last tick decide how much of the next one it is traced for.
tick(S = #sampler{mfas = MFAs, last = Last, last_at = At, budget = B, gen = G}) ->
    Now = read(MFAs),
    T = erlang:monotonic_time(millisecond),
    tick_after(?TICK),
    Elapsed = max(1, T - At),
    S1 = S#sampler{last = Now, last_at = T, gen = G + 1},
    lists:foldl(fun(MFA, Acc = #sampler{skip = Skip}) ->
                        %% The calls a tick of ?TICK ms would see at the last tick's rate.
                        Calls = (maps:get(MFA, Now) - maps:get(MFA, Last, 0)) * ?TICK / Elapsed,
                        case {Calls =< B, maps:get(MFA, Skip, 0)} of
                            {true, _} -> rebase(MFA, maps:get(MFA, Now), set(MFA, true, Acc#sampler{skip = maps:remove(MFA, Skip)}));
                            {false, N} when N > 0 -> set(MFA, false, Acc#sampler{skip = Skip#{MFA := N - 1}});
                            {false, _} ->
                                W = max(1, round(?TICK * B / Calls)),
                                Offset = rand:uniform(?TICK - W + 1) - 1,
                                erlang:send_after(Offset + W, self(), {'$lumin', sample_window, MFA, G + 1, false}),
                                case Offset of
                                    0 -> rebase(MFA, maps:get(MFA, Now), set(MFA, true, Acc));
                                    _ -> erlang:send_after(Offset, self(), {'$lumin', sample_window, MFA, G + 1, true}),
                                         set(MFA, false, Acc)
                                end
                        end
                end, S1, MFAs).

%% A window of tick `Gen' opens (true) or closes (false); a message of an earlier tick is ignored.
window(S = #sampler{gen = G}, MFA, G, On) -> set(MFA, On, S);
window(S, _, _, _) -> S.

%% The burst guard: a function called twice its budget since its tracing began is untraced until the next tick.
guard(S = #sampler{on = On, budget = B}) ->
    Traced = [{MFA, C0, count(MFA)} || {MFA, C0} <- maps:to_list(On), C0 =/= false],
    guard_after(length(Traced)),
    lists:foldl(fun({MFA, C0, C}, Acc) when C - C0 >= 2 * B -> set(MFA, false, Acc);
                   (_, Acc) -> Acc
                end, S, Traced).

%% Trace MFA (set its pattern) or stop tracing it (remove it), unless the probe stopped or another tool set a
%% pattern on it while ours was off.
set(MFA, On, S = #sampler{on = Ons}) when (map_get(MFA, Ons) =/= false) =:= On -> S;
set(MFA, _, S = #sampler{foreign = Fr}) when is_map_key(MFA, Fr) -> S;
set(MFA, On, S = #sampler{on = Ons, ms = MS, stop = Stop}) ->
    case counters:get(Stop, 1) of
        0 when On ->
            case erlang:trace_info(MFA, traced) of
                {traced, false} ->
                    erlang:trace_pattern(MFA, MS, [local]),
                    S#sampler{on = Ons#{MFA := count(MFA)}};
                _ -> S#sampler{foreign = (S#sampler.foreign)#{MFA => true}}
            end;
        0 ->
            erlang:trace_pattern(MFA, false, [local]),
            %% What it traced, until the pattern was gone: a window or burst that went past the budget (the
            %% pattern takes some ms to go on a busy node) is paid for with ticks without one, so what feeds
            %% the sketch keeps to the budget over time — but a window comes at least once a second.
            Traced = count(MFA) - map_get(MFA, Ons),
            Skip = min(?MAX_SKIP, max(0, ceil(Traced / S#sampler.budget) - 1)),
            S#sampler{on = Ons#{MFA := false}, skip = (S#sampler.skip)#{MFA => Skip}};
        _ -> S
    end.

%% A function traced on into a new tick: the guard counts its calls from the tick's start.
rebase(MFA, C, S = #sampler{on = Ons}) when map_get(MFA, Ons) =/= false -> S#sampler{on = Ons#{MFA := C}};
rebase(_, _, S) -> S.

read(MFAs) -> maps:from_list([{MFA, count(MFA)} || MFA <- MFAs]).

tick_after(Ms) -> erlang:send_after(Ms, self(), {'$lumin', sample_tick}).

%% A counter read costs about 0.2 µs: with many functions traced the guard looks less often.
guard_after(Traced) -> erlang:send_after(min(?TICK, max(?GUARD_MS, Traced div 5)), self(), {'$lumin', sample_guard}).

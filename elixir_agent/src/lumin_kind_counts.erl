%% @doc Count probes (a kind of lumin_probe; `%probe MFA --counts'): where counts and mean times suffice, the
%% VM's own `call_time' counters instead of trace messages. The VM counts each call of the functions and adds
%% up their time in its own tables: no message per call, no tracer, no rows to build — a call costs the node a
%% fraction of what a traced one does (see the README's Speed). Every interval (`every_ms', ending on the
%% wall-clock grid like a --summary), one row per function called in it: calls and mean time, read as the
%% change of the VM's counters since the last interval.
%%
%% call_time needs the `call' flag on the calling processes (set on every process, through lumin_trace, so it
%% is shared with call probes; it makes no message without a trace pattern that asks for one). Undo removes this
%% probe's call_time patterns; a function already counted by another tool is refused, never changed.
%%
%% What the counters cannot say: percentiles (that needs each call's time: --summary), exceptions, and time
%% spent waiting — call_time adds up the time a call ran on a scheduler, not the time its process was scheduled
%% out (in a receive, a sleep, waiting for a reply). A call under way when an interval ends is counted in it;
%% its time is added when it returns.
-module(lumin_kind_counts).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, info/2]).

setup(Spec, P) ->
    MFAs = lumin_kind_calls:mfas(Spec),
    [refuse_if_counted(MFA) || MFA <- MFAs],
    Every = case maps:get(every_ms, Spec, 1000) of
                E when is_integer(E), E >= 100 -> E;
                E -> throw({error, io_lib:format("--every ~p ms is too short for counts: give 100ms or more", [E])})
            end,
    [erlang:trace_pattern(MFA, true, [call_time]) || MFA <- MFAs],
    P1 = try lumin_probe:trace(all, [call], [], P)
         catch throw:E2 -> [erlang:trace_pattern(MFA, false, [call_time]) || MFA <- MFAs], throw(E2)
         end,
    %% What lumin_trace removes if this process is killed before it can.
    ok = lumin_trace:patterns(self(), [{MFA, call_time} || MFA <- MFAs], []),
    next(P1#{mfas => MFAs, every => Every, last => read(MFAs), next_ms => grid(os:system_time(millisecond), Every)}).

columns() ->
    [{node, {const, node()}}, {time_us, f64}, {function, dict}, {count, i32}, {mean_us, f64}, {total_us, f64}].

noun() -> "intervals".

target(Spec) -> iolist_to_binary([maps:get(module, Spec, <<"?">>), " (counts)"]).

undo(P = #{mfas := MFAs}) ->
    _ = case P of #{timer := T} -> erlang:cancel_timer(T); _ -> ok end,
    [erlang:trace_pattern(MFA, false, [call_time]) || MFA <- MFAs],
    P.

info({'$lumin', interval}, P = #{state := armed, mfas := MFAs, last := Last, next_ms := At}) ->
    Now = read(MFAs),
    Rows = [[node(), At * 1000.0, lumin_lib:fmt_mfa(MFA), C, T / C, float(T)]
            || MFA <- MFAs, {C1, T1} <- [maps:get(MFA, Now)], {C0, T0} <- [maps:get(MFA, Last, {0, 0})],
               C <- [C1 - C0], T <- [T1 - T0], C > 0],
    %% Each row is one interval of one function, counted against the probe's budgets as an event.
    P1 = lumin_probe:emit_many(Rows, P#{last := Now}),
    next(P1#{next_ms := At + maps:get(every, P1)});
info(_, P) -> P.

%% The VM's counters now: MFA => {Calls, MicrosecondsInAll} over every process that called it.
read(MFAs) ->
    maps:from_list([{MFA, case erlang:trace_info(MFA, call_time) of
                              {call_time, L} when is_list(L) ->
                                  lists:foldl(fun({_, C, S, Us}, {AC, AT}) -> {AC + C, AT + S * 1000000 + Us} end, {0, 0}, L);
                              _ -> {0, 0}
                          end} || MFA <- MFAs]).

refuse_if_counted(MFA) ->
    case erlang:trace_info(MFA, call_time) of
        {call_time, L} when is_list(L) ->
            throw({error, [lumin_lib:fmt_mfa(MFA), " is already counted with call_time by another tool (eprof, or "
                           "another kernel); ElixirLumin does not change tracing it did not set up"]});
        _ -> ok
    end.

grid(NowMs, E) -> (NowMs div E + 1) * E.

%% A timer for the end of the current interval, on the wall-clock grid.
next(P = #{next_ms := At}) ->
    P#{timer => erlang:send_after(max(0, At - os:system_time(millisecond)), self(), {'$lumin', interval})}.

%% @doc The flood guard of call probes. The collector cannot enforce a rate budget on its own under a flood:
%% its clock ticks wait in its mailbox behind the very trace messages it is drowning in. The watchdog is a
%% separate process whose mailbox only ever holds its own ticks, the collector's notes of what is armed and
%% the node-wide guard's requests. Every tick it reads each armed probe's call count at the source (a
%% call_count trace pattern beside the probe's own, so the count is exact and does not lag behind the
%% collector), the tracer's message count and the collector's and tracer's mailbox lengths. Past a budget it
%% removes the trace patterns of ONE probe itself — which stops that probe's flood at its source at once —
%% and tells the collector why, so the probe ends with that reason once it catches up:
%%
%%   * a probe whose own rate passes its rate budget ends (`rate');
%%   * a probe whose time budget is spent ends (`time') — here, so `--for' holds under a flood;
%%   * when trace messages wait beyond the mailbox budget, or arrive faster than all armed probes' budgets
%%     together allow, the busiest probe ends (`mailbox', `rate'); idle neighbours stay armed;
%%   * when the node-wide memory budget trips (lumin_guard), the busiest probe ends (`memory').
-module(lumin_watchdog).
-export([start/3, armed/5, ended/2, overload/3, stop/1, init/3]).

-define(TICK_MS, 100).

%% @doc Watch `Collector' and `Tracer'; `Counter' is the tracer's message count (counters ref, index 1).
-spec start(pid(), pid(), counters:counters_ref()) -> pid().
start(Collector, Tracer, Counter) ->
    proc_lib:spawn_link(?MODULE, init, [Collector, Tracer, Counter]).

%% @doc A probe armed on `MFAs' with its budget (rate in calls/s, mailbox in messages, time_ms).
armed(W, Name, _Id, MFAs, Budget) ->
    [erlang:trace_pattern(MFA, true, [call_count]) || MFA <- MFAs],
    W ! {armed, Name, MFAs, Budget, erlang:monotonic_time(millisecond)}, ok.
ended(W, Name) -> W ! {ended, Name}, ok.
%% @doc End the busiest armed probe with why_ended `Why' (the node-wide guard's request).
overload(W, Why, Detail) -> W ! {overload, Why, Detail}, ok.
stop(W) -> unlink(W), exit(W, shutdown), ok.

init(Collector, Tracer, Counter) ->
    %% High priority: under a flood the collector, the tracer and the traced processes take long turns at normal
    %% priority; a tick that waits behind them sees a budget (rate, mailbox, time) seconds late.
    process_flag(priority, high),
    erlang:send_after(?TICK_MS, self(), tick),
    loop(#{collector => Collector, tracer => Tracer, counter => Counter, probes => #{},
           last => counters:get(Counter, 1), at => erlang:monotonic_time(millisecond)}).

%% probes: Name => #{mfas, budget, since, count (calls at the last tick), rate}
loop(S = #{probes := Ps}) ->
    receive
        {armed, Name, MFAs, Budget, Since} ->
            loop(S#{probes := Ps#{Name => #{mfas => MFAs, budget => Budget, since => Since, count => calls(MFAs), rate => 0.0,
                                              at => Since}}});
        {ended, Name} ->
            case Ps of
                #{Name := #{mfas := MFAs}} -> [erlang:trace_pattern(MFA, false, [call_count]) || MFA <- MFAs];
                _ -> ok
            end,
            loop(S#{probes := maps:remove(Name, Ps)});
        {overload, Why, Detail} ->
            loop(end_busiest(S, Why, Detail));
        tick ->
            erlang:send_after(?TICK_MS, self(), tick),
            loop(check(S))
    end.

calls(MFAs) ->
    lists:sum([N || MFA <- MFAs, {call_count, N} <- [erlang:trace_info(MFA, call_count)], is_integer(N)]).

check(S = #{collector := C, tracer := T, counter := Counter, probes := Ps0, last := Last, at := At}) ->
    Now = erlang:monotonic_time(millisecond),
    Dt = max(1, Now - At),
    Count = counters:get(Counter, 1),
    MsgsPerS = (Count - Last) * 1000 / Dt,
    Ps = maps:map(fun(_, P = #{mfas := MFAs, count := C0, at := At0}) ->
                          C1 = calls(MFAs),
                          P#{count := C1, rate := (C1 - C0) * 1000 / max(1, Now - At0), at := Now}
                  end, Ps0),
    S1 = S#{last := Count, at := Now, probes := Ps},
    Over = [{Name, rate, io_lib:format("rate budget of ~b calls/s exceeded (~b/s); stopped at the source", [round(R), round(Rate)])}
            || {Name, #{rate := Rate, budget := #{rate := R}}} <- maps:to_list(Ps), Rate > R] ++
           [{Name, time, io_lib:format("time budget of ~.1f s spent", [Tm / 1000])}
            || {Name, #{since := Since, budget := #{time_ms := Tm}}} <- maps:to_list(Ps), Now - Since >= Tm],
    case Over of
        [_ | _] -> lists:foldl(fun({Name, Why, Detail}, Acc) -> end_probe(Acc, Name, Why, Detail) end, S1, Over);
        [] when map_size(Ps) > 0 ->
            Budget = lists:sum([R || #{budget := #{rate := R}} <- maps:values(Ps)]),
            Backlog = queue_len(C) + queue_len(T),
            MailboxBudget = lists:min([M || #{budget := #{mailbox := M}} <- maps:values(Ps)]),
            if
                %% A call makes up to three trace messages (call, return, return_to).
                MsgsPerS > 3 * Budget ->
                    end_busiest(S1, rate, io_lib:format("trace messages came at ~b/s, more than the armed probes' rate budgets "
                                                        "allow together; this probe was the busiest", [round(MsgsPerS)]));
                Backlog > MailboxBudget ->
                    end_busiest(S1, mailbox, io_lib:format("~b trace messages waited on the node (budget ~b); this probe was "
                                                           "the busiest", [Backlog, MailboxBudget]));
                true -> S1
            end;
        [] -> S1
    end.

%% The busiest probe, if any is busy now: a backlog left by a probe that already ended is not an idle
%% neighbour's fault. The node-wide guard (`memory') always ends one.
end_busiest(S = #{probes := Ps}, Why, Detail) ->
    case lists:reverse(lists:sort([{R, Since, Name} || {Name, #{rate := R, since := Since}} <- maps:to_list(Ps)])) of
        [{R, _, Name} | _] when R > 0; Why =:= memory -> end_probe(S, Name, Why, Detail);
        _ -> S
    end.

end_probe(S = #{collector := C, probes := Ps}, Name, Why, Detail) ->
    case Ps of
        #{Name := #{mfas := MFAs}} ->
            Ts = erlang:monotonic_time(nanosecond),
            [erlang:trace_pattern(MFA, false, [local]) || MFA <- MFAs],
            [erlang:trace_pattern(MFA, false, [call_count]) || MFA <- MFAs],
            C ! {'$lumin', watchdog_end, Name, Why, iolist_to_binary(Detail), Ts},
            S#{probes := maps:remove(Name, Ps)};
        _ -> S
    end.

queue_len(Pid) ->
    case erlang:process_info(Pid, message_queue_len) of
        {message_queue_len, N} -> N;
        undefined -> 0
    end.

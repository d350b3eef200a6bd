%% @doc The flood guard of call probes. The collector cannot enforce a rate budget on its own under a flood:
%% its clock ticks wait in its mailbox behind the very trace messages it is drowning in. The watchdog is a
%% separate process whose mailbox only ever holds its own ticks and the collector's notes of what is armed.
%% Every tick it reads how many trace messages the tracer took (a `counters' cell the tracer bumps once per
%% chunk) and the collector's and tracer's mailbox lengths; past a budget it removes the trace patterns
%% itself — which stops the flood at its source at once — and tells the collector why, so the probes end
%% with that reason once it catches up.
%%
%% Attribution is conservative: the tracer's count is node-wide, so when the trace message rate exceeds the
%% sum of the armed probes' rate budgets, every armed call probe ends. A call makes two trace messages
%% (call and return), which the rate is divided by.
-module(lumin_watchdog).
-export([start/3, armed/4, ended/2, stop/1, init/3]).

-define(TICK_MS, 100).

%% @doc Watch `Collector' and `Tracer'; `Counter' is the tracer's message count (counters ref, index 1).
-spec start(pid(), pid(), counters:counters_ref()) -> pid().
start(Collector, Tracer, Counter) ->
    proc_lib:spawn_link(?MODULE, init, [Collector, Tracer, Counter]).

%% @doc A probe armed on `MFAs' with a rate budget (calls/s) and a mailbox budget (messages).
armed(W, Name, MFAs, #{rate := Rate, mailbox := Mailbox}) -> W ! {armed, Name, MFAs, Rate, Mailbox}, ok.
ended(W, Name) -> W ! {ended, Name}, ok.
stop(W) -> unlink(W), exit(W, shutdown), ok.

init(Collector, Tracer, Counter) ->
    erlang:send_after(?TICK_MS, self(), tick),
    loop(#{collector => Collector, tracer => Tracer, counter => Counter, probes => #{},
           last => counters:get(Counter, 1), at => erlang:monotonic_time(millisecond)}).

loop(S = #{probes := Ps}) ->
    receive
        {armed, Name, MFAs, Rate, Mailbox} -> loop(S#{probes := Ps#{Name => {MFAs, Rate, Mailbox}}});
        {ended, Name} -> loop(S#{probes := maps:remove(Name, Ps)});
        tick ->
            erlang:send_after(?TICK_MS, self(), tick),
            loop(check(S))
    end.

check(S = #{collector := C, tracer := T, counter := Counter, probes := Ps, last := Last, at := At}) ->
    Now = erlang:monotonic_time(millisecond),
    Count = counters:get(Counter, 1),
    CallsPerS = (Count - Last) * 1000 / max(1, Now - At) / 2,
    S1 = S#{last := Count, at := Now},
    case maps:size(Ps) of
        0 -> S1;
        _ ->
            Budget = lists:sum([R || {_, R, _} <- maps:values(Ps)]),
            Backlog = queue_len(C) + queue_len(T),
            MailboxBudget = lists:min([M || {_, _, M} <- maps:values(Ps)]),
            if
                CallsPerS > Budget ->
                    stop_all(S1, rate, io_lib:format("rate budget of ~b calls/s exceeded (~b/s)", [round(Budget), round(CallsPerS)]));
                Backlog > MailboxBudget ->
                    stop_all(S1, mailbox, io_lib:format("~b trace messages waited on the node (budget ~b)", [Backlog, MailboxBudget]));
                true -> S1
            end
    end.

stop_all(S = #{collector := C, probes := Ps}, Why, Detail) ->
    Ts = erlang:monotonic_time(nanosecond),
    maps:foreach(fun(Name, {MFAs, _, _}) ->
                         [erlang:trace_pattern(MFA, false, [local]) || MFA <- MFAs],
                         C ! {'$lumin', watchdog_end, Name, Why, iolist_to_binary(Detail), Ts}
                 end, Ps),
    S#{probes := #{}}.

queue_len(Pid) ->
    case erlang:process_info(Pid, message_queue_len) of
        {message_queue_len, N} -> N;
        undefined -> 0
    end.

%% @doc Benchmark-only code loaded into the node the benchmark starts (never shipped): the traced function,
%% the tight loop that calls it, the flood of messages, 100,000 idle processes for %top, and the "raw
%% ceilings" — a trivial tracer on the same node that receives exactly the trace messages ElixirLumin's
%% probes ask for (same flags, same match-spec bodies) and only counts them.
-module(lumin_bench).
-export([work/1, timed_loop/1, raw_calls/2, state_work/1, timed_state_loop/2,
         start_sink/1, stop_sink/1, flood/2, raw_messages/2,
         spawn_idle/1, stop_idle/0, os_pid/0,
         start_server/1, restart_server/1, casts/2, raw_pair/2, start_big_server/2, state_ship_cost/3,
         cpu_per_call/1, call_time_cost/2, raw_trace_cost/2, paced_load/3, paced_cost/3]).
-export([init/1, handle_cast/2, handle_call/3]).

%% The same flags and match-spec bodies as lumin_kind_calls (?FLAGS, setup/2) and lumin_kind_messages (?FLAGS).
-define(CALL_FLAGS, [call, arity, monotonic_timestamp]).
-define(MSG_FLAGS, [send, 'receive', monotonic_timestamp]).

os_pid() -> list_to_integer(os:getpid()).

%% ---- calls ------------------------------------------------------------------------------------------------

%% The traced function: trivial, so the figures measure tracing, not work.
work(X) -> X + 1.

%% A function that returns a state it was given (as a handle_call that replies with its state does): the
%% cost of tracing it with and without its result.
state_work(S) -> S.

%% Call state_work/1 N times on a state of about KB kilobytes, in a fresh process; #{loop_us}.
timed_state_loop(N, KB) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() ->
                        State = maps:from_list([{I, {entry, I}} || I <- lists:seq(1, KB * 1024 div 64)]),
                        receive go -> ok end,
                        T0 = erlang:monotonic_time(microsecond),
                        _ = state_loop(N, State),
                        Parent ! {Ref, erlang:monotonic_time(microsecond) - T0}
                end),
    Pid ! go,
    receive {Ref, LoopUs} -> #{loop_us => LoopUs} after 120000 -> exit(Pid, kill), error(timeout) end.

state_loop(0, S) -> S;
state_loop(N, S) -> state_loop(N - 1, ?MODULE:state_work(S)).

loop(0, Acc) -> Acc;
loop(N, Acc) -> loop(N - 1, ?MODULE:work(Acc)).

%% Call work/1 N times in a fresh process (so a probe tracing `all` processes traces it); #{loop_us}: the
%% loop's own time, measured inside that process.
timed_loop(N) ->
    {Pid, Ref} = loop_process(N),
    Pid ! go,
    receive {Ref, LoopUs} -> #{loop_us => LoopUs} after 120000 -> exit(Pid, kill), error(timeout) end.

loop_process(N) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() ->
                        receive go -> ok end,
                        T0 = erlang:monotonic_time(microsecond),
                        _ = loop(N, 0),
                        Parent ! {Ref, erlang:monotonic_time(microsecond) - T0}
                end),
    {Pid, Ref}.

%% The raw ceiling for call probes: work/1 traced with the body lumin_kind_calls uses (exception_trace, plus the
%% whole call as the message with --args), call/arity/monotonic_timestamp on the looping process, and a
%% trivial tracer that counts the call and return_from messages. #{total_us}: from the loop's start until
%% the tracer has counted all 2N messages; #{loop_us}: the loop's own time.
raw_calls(N, Args) ->
    Self = self(),
    Body = [{exception_trace} | [{message, '$_'} || Args]],
    Tracer = spawn(fun() -> count(2 * N, Self) end),
    {Pid, Ref} = loop_process(N),
    MFA = {?MODULE, work, 1},
    1 = erlang:trace_pattern(MFA, [{'_', [], Body}], [local]),
    1 = erlang:trace(Pid, true, [{tracer, Tracer} | ?CALL_FLAGS]),
    T0 = erlang:monotonic_time(microsecond),
    Pid ! go,
    try
        LoopUs = receive {Ref, L} -> L after 120000 -> error(loop_timeout) end,
        T1 = receive {counted, Tracer, T} -> T after 120000 -> error(tracer_timeout) end,
        #{loop_us => LoopUs, total_us => T1 - T0}
    after
        erlang:trace_pattern(MFA, false, [local]),
        exit(Tracer, kill)
    end.

%% A trivial tracer: count messages, tell Parent when `N' have arrived (with the time, in µs).
count(N, Parent) -> count(N, 0, Parent).
count(N, N, Parent) ->
    Parent ! {counted, self(), erlang:monotonic_time(microsecond)},
    receive stop -> ok end;
count(N, C, Parent) ->
    receive _ -> count(N, C + 1, Parent) end.

%% ---- messages ----------------------------------------------------------------------------------------------

%% A registered process that receives anything and does nothing with it.
start_sink(Name) ->
    Pid = spawn(fun sink/0),
    true = register(Name, Pid),
    Pid.

stop_sink(Name) ->
    case whereis(Name) of
        undefined -> ok;
        Pid -> exit(Pid, kill), ok
    end.

sink() -> receive _ -> sink() end.

%% A fresh process sends N small messages to the sink as fast as it can; #{send_us}: its own time.
flood(Name, N) ->
    Sink = whereis(Name),
    Parent = self(),
    Ref = make_ref(),
    spawn(fun() ->
                  T0 = erlang:monotonic_time(microsecond),
                  send_n(Sink, N),
                  Parent ! {Ref, erlang:monotonic_time(microsecond) - T0}
          end),
    receive {Ref, Us} -> #{send_us => Us} after 120000 -> error(timeout) end.

send_n(_, 0) -> ok;
send_n(Sink, N) -> Sink ! {flood, N}, send_n(Sink, N - 1).

%% The raw ceiling for message probes: the sink traced with the flags lumin_kind_messages uses (send, receive,
%% monotonic timestamps) to a trivial counting tracer. #{total_us}: from the flood's start until the tracer
%% has counted the N receive messages.
raw_messages(Name, N) ->
    Self = self(),
    Sink = whereis(Name),
    Tracer = spawn(fun() -> count(N, Self) end),
    1 = erlang:trace(Sink, true, [{tracer, Tracer} | ?MSG_FLAGS]),
    T0 = erlang:monotonic_time(microsecond),
    try
        #{send_us := SendUs} = flood(Name, N),
        T1 = receive {counted, Tracer, T} -> T after 120000 -> error(tracer_timeout) end,
        #{send_us => SendUs, total_us => T1 - T0}
    after
        catch erlang:trace(Sink, false, ?MSG_FLAGS),
        exit(Tracer, kill)
    end.

%% ---- many processes, for %top --------------------------------------------------------------------------------

%% N idle processes (each waits for `stop'), under a registered holder; returns the node's process count.
spawn_idle(N) ->
    Parent = self(),
    Holder = spawn(fun() ->
                           Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
                           Parent ! {self(), ready},
                           receive stop -> [P ! stop || P <- Pids], ok end
                   end),
    true = register(lumin_bench_idle, Holder),
    receive {Holder, ready} -> erlang:system_info(process_count) after 120000 -> error(timeout) end.

stop_idle() ->
    case whereis(lumin_bench_idle) of
        undefined -> ok;
        H -> H ! stop, ok
    end.

%% ---- kinds together ---------------------------------------------------------------------------------------

%% A registered gen_server (callbacks below) that counts the casts it handles: the process every kind of probe
%% watches at once.
start_server(Name) ->
    {ok, Pid} = gen_server:start({local, Name}, ?MODULE, 0, []),
    Pid.

%% The same server, started afresh (the one of that name stopped): each run of the kinds benchmark measures a
%% process with nothing left on its heap, in its mailbox or its debug options by the run before it.
restart_server(Name) ->
    _ = [gen_server:stop(Name) || whereis(Name) =/= undefined],
    start_server(Name).

init({big, MB}) -> {ok, big_state(MB)};
init(N) -> {ok, N}.
handle_cast({n, I}, S = #{queue := #{len := L}}) -> {noreply, S#{queue := #{len => L + 1, last => I}}};
handle_cast({n, _}, N) -> {noreply, N + 1}.
handle_call(count, _From, S = #{queue := #{len := L}}) -> {reply, L, S};
handle_call(count, _From, N) -> {reply, N, N}.

%% The call + state pair without ElixirLumin, beside its own: on a server started afresh for each, N casts
%% untraced, under a bare call trace (handle_cast/2 with the flags and pattern of a --no-result call probe, to
%% a tracer that drops each message), under a bare sys hook (each debug event written to an ETS table, as the
%% state probe's hook does), and under both. #{untraced, calls, state, both}: each run's µs (casts/2).
raw_pair(Name, N) ->
    maps:from_list([{Mode, raw_pair_run(Name, N, Mode)} || Mode <- [untraced, calls, state, both]]).

raw_pair_run(Name, N, Mode) ->
    Pid = restart_server(Name),
    Tracer = spawn(fun Drop() -> receive stop -> ok; _ -> Drop() end end),
    Tab = ets:new(?MODULE, [public, ordered_set, {write_concurrency, true}]),
    MFA = {?MODULE, handle_cast, 2},
    case Mode =:= calls orelse Mode =:= both of
        true ->
            1 = erlang:trace_pattern(MFA, [{'_', [], []}], [local]),
            1 = erlang:trace(Pid, true, [{tracer, Tracer}, return_to | ?CALL_FLAGS]);
        false -> ok
    end,
    case Mode =:= state orelse Mode =:= both of
        true -> ok = sys:install(Name, {?MODULE, fun(Acc, Ev, _) -> ets:insert(Tab, {erlang:unique_integer([monotonic]), Ev}), Acc end, ok});
        false -> ok
    end,
    try maps:get(us, casts(Name, N))
    after
        erlang:trace_pattern(MFA, false, [local]),
        _ = (catch sys:remove(Name, ?MODULE)),
        Tracer ! stop,
        ets:delete(Tab)
    end.

%% ---- a big state: what a state probe ships per message ----------------------------------------------------

%% A queue process's state of about MB megabytes (as notebooks/apps/bigstate: a map of MB x 7,500 entries of
%% ~135 bytes of heap, and a small queue record that each cast changes).
big_state(MB) ->
    Messages = maps:from_list([{I, {msg, I, <<"payload-", (integer_to_binary(I))/binary, "-", (binary:copy(<<"x">>, 40))/binary>>}}
                               || I <- lists:seq(1, MB * 7500)]),
    #{messages => Messages, queue => #{len => 0, last => undefined}}.

%% The same gen_server as start_server/1, holding big_state(MB); its casts change only the queue record.
start_big_server(Name, MB) ->
    {ok, Pid} = gen_server:start({local, Name}, ?MODULE, {big, MB}, []),
    Pid.

%% What a state probe's hook does per message in the watched process, N messages that each change the queue
%% record of a big_state(MB), side by side in one fresh process: before (the state's view, cut: what the hook
%% shipped per message until state diffs) and after (lumin_kind_state:shipped/3: a diff against the state
%% before). #{before_us, after_us} per message (median), and the heap bytes each ships per message (median).
state_ship_cost(MB, N, Cut) ->
    Parent = self(),
    Ref = make_ref(),
    spawn(fun() ->
                  S0 = big_state(MB),
                  View = {[], Cut},
                  {_, Prev0} = lumin_kind_state:shipped(S0, View, none),
                  {_, B, A, BB, AB} =
                      lists:foldl(fun(I, {{S, Prev}, Bs, As, BBs, ABs}) ->
                                          #{queue := #{len := L}} = S,
                                          New = S#{queue := #{len => L + 1, last => I}},
                                          T0 = erlang:monotonic_time(nanosecond),
                                          Old = lumin_kind_state:view(New, View),
                                          T1 = erlang:monotonic_time(nanosecond),
                                          {Ship, Prev1} = lumin_kind_state:shipped(New, View, Prev),
                                          T2 = erlang:monotonic_time(nanosecond),
                                          {{New, Prev1}, [T1 - T0 | Bs], [T2 - T1 | As],
                                           [erts_debug:flat_size(Old) * 8 | BBs], [erts_debug:flat_size(Ship) * 8 | ABs]}
                                  end, {{S0, Prev0}, [], [], [], []}, lists:seq(1, N)),
                  Parent ! {Ref, #{before_us => median(B) / 1000, after_us => median(A) / 1000,
                                   before_bytes => median(BB), after_bytes => median(AB),
                                   state_mb => erts_debug:flat_size(S0) * 8 div 1048576}}
          end),
    receive {Ref, R} -> R after 300000 -> error(timeout) end.

median(L) -> lists:nth(length(L) div 2 + 1, lists:sort(L)).

%% A fresh process sends N casts, then a call that returns once the server has handled them all;
%% #{us}: from the first cast to that reply (the node's time for the workload).
casts(Name, N) ->
    Parent = self(),
    Ref = make_ref(),
    spawn(fun() ->
                  T0 = erlang:monotonic_time(microsecond),
                  [gen_server:cast(Name, {n, I}) || I <- lists:seq(1, N)],
                  _ = gen_server:call(Name, count, 60000),
                  Parent ! {Ref, erlang:monotonic_time(microsecond) - T0}
          end),
    receive {Ref, Us} -> #{us => Us} after 120000 -> error(timeout) end.

%% ---- clusters: what a call costs the node under each way of timing it ------------------------------------

%% CPU time of the whole node (statistics(runtime): every thread of the runtime) per call of work/1, over N
%% calls in a fresh process, from before the loop until the agent's tracer and probes have handled
%% everything: #{cpu_us_per_call, loop_us}. Under a probe this is what the probe costs the node per call
%% (with the untraced figure subtracted).
cpu_per_call(N) ->
    wait_idle(0),
    {R0, _} = statistics(runtime),
    #{loop_us := L} = timed_loop(N),
    wait_idle(0),
    {R1, _} = statistics(runtime),
    #{cpu_us_per_call => (R1 - R0) * 1000 / N, loop_us => L}.

%% The same measure over a steady load instead of one burst: paced_load/3 (Procs processes calling work/1 in
%% bursts of Burst, a millisecond's sleep between, for Ms ms), until the agent is idle: #{cpu_us_per_call,
%% calls}. What a probe left on costs a node whose function is busy all the time.
paced_cost(Procs, Burst, Ms) ->
    wait_idle(0),
    {R0, _} = statistics(runtime),
    #{calls := C} = paced_load(Procs, Burst, Ms),
    wait_idle(0),
    {R1, _} = statistics(runtime),
    #{cpu_us_per_call => (R1 - R0) * 1000 / max(1, C), calls => C}.

%% The VM's own counters instead of trace messages: `call_time' (count and time per function; the looping
%% process needs the `call' flag, no message is sent) or `call_count' (count only, no process flag). Same
%% loop, same measure as cpu_per_call/1; the count (and mean) the VM kept are read back to check it counted.
call_time_cost(N, Kind) when Kind =:= call_time; Kind =:= call_count ->
    MFA = {?MODULE, work, 1},
    1 = erlang:trace_pattern(MFA, true, [Kind]),
    {Pid, Ref} = loop_process(N),
    Kind =:= call_time andalso erlang:trace(Pid, true, [call]),
    wait_idle(0),
    {R0, _} = statistics(runtime),
    Pid ! go,
    L = receive {Ref, LoopUs} -> LoopUs after 120000 -> exit(Pid, kill), error(timeout) end,
    {R1, _} = statistics(runtime),
    {Count, Mean} = case erlang:trace_info(MFA, Kind) of
                        {call_time, Ts} ->
                            C = lists:sum([X || {_, X, _, _} <- Ts]),
                            {C, lists:sum([S * 1000000 + Us || {_, _, S, Us} <- Ts]) / max(1, C)};
                        {call_count, C} -> {C, undefined}
                    end,
    erlang:trace_pattern(MFA, false, [Kind]),
    #{cpu_us_per_call => (R1 - R0) * 1000 / N, loop_us => L, count => Count, mean_us => Mean}.

%% The floor of any summary made from trace messages: work/1 traced as lumin_kind_calls traces it (call and
%% exception_trace, the same flags) to a tracer of its own that `drop's each message as it comes, or `fold's each
%% call's duration into a lumin_sketch in the tracer itself (no second process, no row, no batch: a summary
%% folded where the messages arrive). Same loop, same measure as cpu_per_call/1, until that tracer is idle.
raw_trace_cost(N, Mode) when Mode =:= drop; Mode =:= fold ->
    MFA = {?MODULE, work, 1},
    Tracer = spawn(fun() -> raw_tracer(Mode, lumin_sketch:new(0.01), #{}) end),
    {Pid, Ref} = loop_process(N),
    1 = erlang:trace_pattern(MFA, [{'_', [], [{exception_trace}]}], [local]),
    1 = erlang:trace(Pid, true, [{tracer, Tracer} | ?CALL_FLAGS]),
    wait_idle(0),
    {R0, _} = statistics(runtime),
    Pid ! go,
    L = receive {Ref, LoopUs} -> LoopUs after 120000 -> exit(Pid, kill), error(timeout) end,
    tracer_idle(Tracer),
    {R1, _} = statistics(runtime),
    erlang:trace_pattern(MFA, false, [local]),
    Tracer ! {count, self()},
    Count = receive {sketch_count, C} -> C after 5000 -> undefined end,
    exit(Tracer, kill),
    #{cpu_us_per_call => (R1 - R0) * 1000 / N, loop_us => L, count => Count}.

raw_tracer(Mode, Sk, Open) ->
    receive
        {trace_ts, P, call, _, T0} when Mode =:= fold -> raw_tracer(Mode, Sk, Open#{P => T0});
        {trace_ts, P, Ret, _, _, T1} when Mode =:= fold, Ret =:= return_from; Mode =:= fold, Ret =:= exception_from ->
            case maps:take(P, Open) of
                {T0, Open1} -> raw_tracer(Mode, lumin_sketch:add(Sk, (T1 - T0) / 1000), Open1);
                error -> raw_tracer(Mode, Sk, Open)
            end;
        {count, From} -> From ! {sketch_count, lumin_sketch:count(Sk)}, raw_tracer(Mode, Sk, Open);
        _ -> raw_tracer(Mode, Sk, Open)
    end.

tracer_idle(T) ->
    timer:sleep(10),
    case erlang:process_info(T, message_queue_len) of
        {message_queue_len, 0} -> ok;
        _ -> tracer_idle(T)
    end.

%% Until the agent's tracer and probes have had empty mailboxes for 5 looks in a row, 10 ms apart.
wait_idle(5) -> ok;
wait_idle(K) ->
    Qs = [Q || P <- agent_pids(), {message_queue_len, Q} <- [erlang:process_info(P, message_queue_len)]],
    timer:sleep(10),
    case lists:sum(Qs) of
        0 -> wait_idle(K + 1);
        _ -> wait_idle(0)
    end.

agent_pids() ->
    Tracer = case catch lumin_trace:tracer() of
                 T when is_pid(T) -> [T];
                 _ -> []
             end,
    %% Every probe is a process of the probe runtime, kept by the agent by name.
    Probes = case catch sys:get_state(lumin_agent, 1000) of
                 #{kinds := Kinds} -> [P || P <- maps:values(Kinds), is_pid(P)];
                 _ -> []
             end,
    Tracer ++ Probes.

%% A heavy, steady load: `Procs' processes each calling work/1 in bursts of `Burst' and pausing 1 ms, for
%% `Ms' milliseconds: #{calls} made in all.
paced_load(Procs, Burst, Ms) ->
    Parent = self(),
    Until = erlang:monotonic_time(millisecond) + Ms,
    Pids = [spawn(fun() -> Parent ! {self(), paced(Until, Burst, 0)} end) || _ <- lists:seq(1, Procs)],
    #{calls => lists:sum([receive {P, C} -> C end || P <- Pids])}.

paced(Until, Burst, N) ->
    case erlang:monotonic_time(millisecond) >= Until of
        true -> N;
        false -> _ = loop(Burst, 0), timer:sleep(1), paced(Until, Burst, N + Burst)
    end.

%% @doc The probe runtime: one process per probe, which does for every kind what a probe has in common, while
%% the kind's callback module (behaviour lumin_probe_kind, module lumin_kind_KIND) only sets itself up, turns
%% what it sees into rows and undoes what it set. The runtime owns:
%%
%%   * budgets (lumin_budget): count (`limit'), time, rate, buffer, the probe's mailbox and memory, and the
%%     watched process's mailbox (`overload'), each probe with its own, checked on its events, on ticks and by
%%     a watchdog process of its own that a flood cannot delay (see "the watchdog" below); the node-wide memory
%%     guard (lumin_guard) counts the probe's process and ends only this probe when it holds the most;
%%   * tracing: a trace kind asks for flags through trace/4, which shares the node's one tracer with every other
%%     probe (lumin_trace); each probe gets its own events, and ending removes only the flags no other probe
%%     needs;
%%   * batching: rows go into a lumin_columns builder and ship to `Report' as
%%     `{lumin_event, probe_batch, #{name, node, kind, batch, from}}', answered by `{lumin_ack, Name}'; at most
%%     lumin_budget:max_batches_in_flight/0 unacknowledged, rows wait up to the buffer budget, then are dropped
%%     and counted;
%%   * status: `{lumin_event, probe_status, Summary}' when it arms, on every tick while armed, when it ends and
%%     once it has ended (after its last batch);
%%   * ending ONCE: it stops counting, removes what the kind set (undo) and its trace flags, drains what was under
%%     way for at most ?DRAIN_MS (what is still queued then is dropped and counted), sends its last batch and its
%%     `ended' status, gives its owner its last summary and stops. A watched process exiting ends it with
%%     why_ended `target_down'. The process leaves no flag, handler or hook behind even when killed: callbacks
%%     that run in other processes check a flag it clears and whether it is alive.
%%
%% Nothing typed by a user becomes an atom (lumin_target resolves names). The agent's own processes are never
%% traced or watched.
-module(lumin_probe).
-behaviour(gen_server).

-export([arm/4, disarm/1, status/1, stop/1, kinds/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).
%% For the kinds.
-export([emit/2, emit_many/2, take/1, add_row/2, check_limit/1, counted/2, flush/2, end_probe/3, finalize/1, drop/2,
         trace/4, untrace/2, ours/2, us/2, name_of/2]).
%% The watchdog's loop (a process of its own).
-export([watchdog/1]).

-type probe() :: map().
-export_type([probe/0]).

%% How long an ending probe waits for what is under way (tracer chunks, handler messages) before its last batch.
-define(DRAIN_MS, 500).
%% The least heap of a tracing probe while armed, in words (1.6 MB on a 64-bit node).
-define(TRACING_HEAP, 200000).
%% Mailbox and memory are also checked every this many events, not only on ticks.
-define(CHECK_EVERY, 1024).
%% The names cache is cleared past this size.
-define(MAX_CACHE, 100000).

%% ---- API -------------------------------------------------------------------------------------------

%% @doc The kinds the runtime has, {Name, Module}: the agent's modules named lumin_kind_NAME (NAME as text: a
%% kind's atom may not exist on a node that never used it, and none is made here).
-spec kinds() -> [{string(), module()}].
kinds() ->
    [{K, M} || M <- lumin_lib:agent_modules(), "lumin_kind_" ++ K <- [atom_to_list(M)]].

%% @doc Arm a probe of `Kind' named `Name' that reports to `Report'. The probe watches its caller (the agent)
%% and cleans up when it goes. Info: #{kind, target, warnings}.
-spec arm(atom(), binary(), map(), pid()) -> {ok, pid(), map()} | {error, binary()}.
arm(Kind, Name, Spec, Report) when is_map(Spec), is_atom(Kind) ->
    case lists:keyfind(atom_to_list(Kind), 1, kinds()) of
        false ->
            {error, lumin_lib:fmt("there is no probe kind ~p; the kinds are ~ts",
                                  [Kind, lists:join(", ", [K || {K, _} <- kinds()])])};
        {_, Mod} ->
            case gen_server:start(?MODULE, {Kind, Mod, Name, Spec, Report, self()}, [{timeout, 30000}]) of
                {ok, Pid} -> {ok, Pid, gen_server:call(Pid, info, 30000)};
                {error, {shutdown, {lumin_error, Msg}}} -> {error, Msg};
                {error, Other} -> {error, lumin_lib:fmt("the ~p probe could not be armed: ~0p", [Kind, Other])}
            end
    end;
arm(_, _, Spec, _) when not is_map(Spec) ->
    {error, <<"a probe spec must be a map">>};
arm(Kind, _, _, _) ->
    {error, lumin_lib:fmt("there is no probe kind ~0p", [Kind])}.

%% @doc End the probe (why_ended `disarmed'): everything it set is removed and its last batch and `ended'
%% status are sent before this returns; the process then stops, its last summary given to its owner.
-spec disarm(pid()) -> ok.
disarm(Pid) ->
    try gen_server:call(Pid, disarm, 30000) catch exit:_ -> ok end.

-spec status(pid()) -> map() | undefined.
status(Pid) ->
    try gen_server:call(Pid, status, 5000) catch exit:_ -> undefined end.

%% @doc Remove everything the probe set (ending it first when it is still armed), then stop it. Synchronous.
-spec stop(pid()) -> ok.
stop(Pid) ->
    try gen_server:stop(Pid, normal, 30000) catch exit:_ -> ok end.

%% ---- gen_server ---------------------------------------------------------------------------------------

init({Kind, Mod, Name, Spec, Report, Owner}) ->
    process_flag(trap_exit, true),
    %% Events waiting in the mailbox are not copied by each garbage collection.
    process_flag(message_queue_data, off_heap),
    %% A probe spawned while call probes trace `all' processes is traced too: its own calls must not feed them.
    untrace_self(),
    Now = erlang:monotonic_time(millisecond),
    P0 = #{kind => Kind, mod => Mod, name => Name, report => Report, owner => Owner, target => target_text(Mod, Spec),
           budget => undefined, state => armed, seen => 0, dropped => 0,
           dropped_unsent => 0, rows => lumin_columns:new(Mod:columns()), in_flight => 0, armed_at => Now,
           last_tick => Now, tick_seen => 0, rate => 0.0, why => undefined, detail => undefined,
           offset_ns => erlang:time_offset(nanosecond), names => #{}, warnings => [], ref => make_ref(),
           off => atomics:new(3, []), counter => counters:new(2, [write_concurrency]), watchdog => undefined},
    try
        put('$lumin_cut', lumin_budget:cut_bytes(Spec)),
        Mod:setup(Spec, P0#{budget := lumin_budget:resolve(budget_spec(Spec))})
    of
        P1 ->
            erlang:monitor(process, Owner),
            erlang:send_after(lumin_budget:tick_ms(), self(), {'$lumin', tick}),
            erlang:send_after(maps:get(time_ms, maps:get(budget, P1)), self(), {'$lumin', time_up}),
            report_status(P1),
            {ok, start_watchdog(P1)}
    catch
        throw:{error, Msg} -> {stop, {shutdown, {lumin_error, lumin_lib:utf8(Msg)}}};
        Class:Reason:Stack ->
            {stop, {shutdown, {lumin_error, lumin_lib:fmt("the ~p probe could not be armed: ~p:~0P (in ~0P)",
                                                          [Kind, Class, Reason, 20, lists:sublist(Stack, 2), 20])}}}
    end.

handle_call(info, _From, P = #{kind := K, target := T, warnings := W}) ->
    {reply, maps:merge(maps:get(info, P, #{}), #{kind => K, target => T, warnings => W}), P};
handle_call(status, _From, P) ->
    {reply, summary(P), P};
handle_call(disarm, _From, P) ->
    done({reply, ok, drain_now(end_probe(disarmed, <<"disarmed by the user">>, P))}).

%% A probe that has ended leaves no process behind: it gives its last summary to its owner (the agent, which
%% answers for it from then on) and stops.
done({reply, R, P = #{state := ended, owner := Owner}}) ->
    Owner ! {'$lumin', probe_ended, self(), summary(P)},
    {stop, normal, R, P};
done({noreply, P = #{state := ended, owner := Owner}}) ->
    Owner ! {'$lumin', probe_ended, self(), summary(P)},
    {stop, normal, P};
done(R) -> R.

handle_cast(_, P) -> {noreply, P}.

handle_info({'DOWN', _, process, Owner, _}, P = #{owner := Owner}) ->
    {stop, normal, P};
handle_info(Msg, P) ->
    done({noreply, event(Msg, heed_watchdog(P))}).

terminate(_Reason, #{state := ended}) ->
    ok;
terminate(_Reason, P) ->
    _ = drain_now(end_probe(disarmed, <<"the probe was stopped">>, P)),
    ok.

budget_spec(Spec) ->
    case maps:get(budgets, Spec, undefined) of
        B when is_map(B) -> maps:merge(Spec, B);
        _ -> Spec
    end.

target_text(Mod, Spec) ->
    case maps:get(target, Spec, undefined) of
        T when is_binary(T) -> T;
        T when is_list(T) -> unicode:characters_to_binary(T);
        _ -> Mod:target(Spec)
    end.

%% ---- what comes in ------------------------------------------------------------------------------------

event({'$lumin', tick}, P = #{state := St}) ->
    case St of
        ended -> P;
        _ ->
            erlang:send_after(lumin_budget:tick_ms(), self(), {'$lumin', tick}),
            tick(P)
    end;
event({'$lumin', time_up}, P = #{budget := #{time_ms := MaxT}}) ->
    end_probe(time, io_lib:format("time budget of ~.1f s spent", [MaxT / 1000]), P);
event({lumin_ack, Name}, P = #{name := Name, in_flight := F}) ->
    P#{in_flight := max(0, F - 1)};
%% After the watchdog stopped a flood at its source, what was already queued is dropped (and counted), fast.
event({'$lumin', chunk, Msgs}, P = #{flooded := true, state := ending}) -> drop(events(Msgs, P), P);
%% Ending is bounded: what is still queued ?DRAIN_MS after the source was stopped is dropped, counted, and the
%% probe ends now (a drain that kept turning chunks into rows never finished while a flood went on).
event({'$lumin', chunk, Msgs}, P = #{state := ending, drain_until := Until, mod := M}) when is_integer(Until) ->
    case erlang:monotonic_time(millisecond) >= Until of
        true -> finalize(drop_queued(drop(events(Msgs, P), P)));
        false -> settle(M:trace(Msgs, P))
    end;
event({'$lumin', chunk, Msgs}, P = #{state := St, mod := M}) when St =/= ended -> settle(M:trace(Msgs, P));
event({'$lumin', chunk, _}, P) -> P;
event({'$lumin_event', Ref, _}, P = #{ref := Ref, flooded := true, state := ending}) -> drop(1, P);
event({'$lumin_event', Ref, Ev}, P = #{ref := Ref, state := St, mod := M}) when St =/= ended -> M:event(Ev, P);
event({'$lumin_event', _, _}, P) -> P;
%% The tracer was killed with a flood's backlog in it (lumin_trace): what it held is dropped, counted here.
event({'$lumin', backlog_dropped, N}, P = #{state := ending}) -> drop(N, P);
event({'$lumin', tracer_stopped, _}, P = #{state := ending}) -> finalize(P);
event({'$lumin', drained}, P = #{state := ending}) ->
    case callback(waiting, [P], false) of
        true -> P#{drained => true};
        false -> finalize(P)
    end;
event({'$lumin', drain_timeout}, P = #{state := ending}) -> finalize(P);
event({'DOWN', Mon, process, Pid, Reason}, P = #{mon := Mon, state := St}) when St =/= ended ->
    end_probe(target_down, io_lib:format("the watched process ~ts exited: ~0P", [lumin_target:pid_text(Pid), Reason, 20]),
              callback(finish, [P], P));
event(Msg, P) ->
    callback(info, [Msg, P], P).

%% An optional callback of the kind, or `Default' when it has none.
callback(F, Args, Default) ->
    M = maps:get(mod, lists:last(Args)),
    case erlang:function_exported(M, F, length(Args)) of
        true -> apply(M, F, Args);
        false -> Default
    end.

%% The chunks already in this process's mailbox, counted as dropped.
drop_queued(P) ->
    receive {'$lumin', chunk, Msgs} -> drop_queued(drop(events(Msgs, P), P))
    after 0 -> P
    end.

%% How many events a chunk of trace messages holds (a call is two or three messages).
events(Msgs, P) -> callback(events, [Msgs, P], length(Msgs)).

%% @doc Count `N' events as dropped (they will never be rows).
drop(N, P = #{dropped := D, dropped_unsent := U}) -> P#{dropped := D + N, dropped_unsent := U + N}.

%% ---- rows, budgets, batches -----------------------------------------------------------------------------

%% @doc Count one event: {true, P} while the probe has not ended and the count budget is not spent (its row
%% is added later with add_row/2), {false, P} otherwise.
take(P = #{state := St, seen := Seen, budget := #{limit := L}, tick_seen := TS}) when St =/= ended, Seen < L ->
    {true, P#{seen := Seen + 1, tick_seen := TS + 1}};
take(P) -> {false, P}.

%% @doc Rows in order, as emit/2 would take them one by one, with one update of the probe per run of rows: a
%% run stops at the count budget, the buffer budget and a full batch.
emit_many([], P) -> P;
emit_many(Rows, P = #{state := St, seen := Seen, budget := #{limit := L, buffer := Buffer}, tick_seen := TS, rows := B})
  when St =/= ended, Seen < L ->
    N = lumin_columns:count(B),
    case min(L - Seen, min(Buffer, max(N + 1, lumin_budget:batch_rows())) - N) of
        K when K > 0 ->
            {Run, Rest, Taken} = take_run(K, Rows, [], 0),
            B1 = lumin_columns:add_all(Run, Taken, B),
            P1 = P#{seen := Seen + Taken, tick_seen := TS + Taken, rows := B1},
            P2 = case lumin_columns:count(B1) >= lumin_budget:batch_rows() of
                     true -> flush(P1, false);
                     false -> P1
                 end,
            P3 = case P2 of
                     #{state := armed} when Seen + Taken >= L -> check_limit(P2);
                     #{state := armed} when (Seen + Taken) div ?CHECK_EVERY =/= Seen div ?CHECK_EVERY -> watch(P2);
                     _ -> P2
                 end,
            emit_many(Rest, P3);
        _ ->
            %% The buffer is full: emit/2 drops the row, counted, and ends the probe.
            emit_many(tl(Rows), emit(hd(Rows), P))
    end;
emit_many(_, P) -> P.

%% Up to K rows, as tuples, newest first (as lumin_columns:add_all/3 takes them), the rest, and how many.
take_run(0, Rest, Acc, N) -> {Acc, Rest, N};
take_run(_, [], Acc, N) -> {Acc, [], N};
take_run(K, [R | Rs], Acc, N) when is_list(R) -> take_run(K - 1, Rs, [list_to_tuple(R) | Acc], N + 1);
take_run(K, [R | Rs], Acc, N) -> take_run(K - 1, Rs, [R | Acc], N + 1).

%% @doc One event as a row (a list or tuple of the kind's columns, in order): take/1 and add_row/2 in one
%% update of the probe (the common path, once per event).
emit(Row, P = #{state := St, seen := Seen, budget := #{limit := L, buffer := Buffer}, tick_seen := TS, rows := Rows})
  when St =/= ended, Seen < L ->
    case lumin_columns:count(Rows) >= Buffer of
        true -> check_limit(add_row(Row, P#{seen := Seen + 1, tick_seen := TS + 1}));
        false ->
            Rows1 = lumin_columns:add(Row, Rows),
            P1 = P#{seen := Seen + 1, tick_seen := TS + 1, rows := Rows1},
            check_limit(case lumin_columns:count(Rows1) >= lumin_budget:batch_rows() of
                            true -> flush(P1, false);
                            false -> P1
                        end)
    end;
emit(_, P) -> P.

%% @doc The row of an event already counted (take/1); dropped and counted when the buffer budget is full.
add_row(Row, P = #{rows := Rows, budget := #{buffer := Buffer}}) ->
    case lumin_columns:count(Rows) >= Buffer of
        true ->
            P1 = drop(1, P),
            %% Once ending, each further row is only counted: formatting the reason per row made an ending
            %% probe too slow to ever finish under a flood.
            case P1 of
                #{state := armed} ->
                    end_probe(buffer, io_lib:format("~b rows waited on the node for the kernel (buffer budget)", [Buffer]), P1);
                _ -> P1
            end;
        false ->
            Rows1 = lumin_columns:add(Row, Rows),
            P1 = P#{rows := Rows1},
            case lumin_columns:count(Rows1) >= lumin_budget:batch_rows() of
                true -> flush(P1, false);
                false -> P1
            end
    end.

%% @doc Ends the probe once its count budget is spent (and watches its load every ?CHECK_EVERY events).
check_limit(P = #{state := armed, seen := Seen, budget := #{limit := L}, mod := M}) when Seen >= L ->
    end_probe(limit, io_lib:format("count budget of ~b ~ts reached", [L, M:noun()]), P);
check_limit(P = #{state := armed, seen := Seen}) when Seen rem ?CHECK_EVERY =:= 0 ->
    watch(P);
check_limit(P) -> P.

%% @doc After a kind counted a run of events at once (its count went from `Seen0' to the probe's `seen'): the
%% count budget, and the probe's own mailbox and memory once every ?CHECK_EVERY events, as emit/2 checks them.
counted(_, P = #{state := armed, seen := Seen, budget := #{limit := L}}) when Seen >= L -> check_limit(P);
counted(Seen0, P = #{state := armed, seen := Seen}) when Seen div ?CHECK_EVERY =/= Seen0 div ?CHECK_EVERY -> watch(P);
counted(_, P) -> P.

tick(P = #{state := armed, budget := #{rate := MaxRate, time_ms := MaxT}, armed_at := At, last_tick := Last,
           tick_seen := Seen, mod := M}) ->
    Now = erlang:monotonic_time(millisecond),
    Rate = Seen * 1000 / max(1, Now - Last),
    P1 = flush(P#{rate := Rate, tick_seen := 0, last_tick := Now}, false),
    if
        Rate > MaxRate ->
            %% As when the watchdog sees it first: what was queued when the rate budget ran out is dropped,
            %% counted, whichever of the two noticed.
            end_probe(rate, io_lib:format("rate budget of ~b ~ts/s exceeded (~b/s)", [round(MaxRate), M:noun(), round(Rate)]),
                      P1#{flooded => true});
        Now - At >= MaxT ->
            end_probe(time, io_lib:format("time budget of ~.1f s spent", [MaxT / 1000]), P1);
        true ->
            case watch(P1) of
                P2 = #{state := armed} -> report_status(P2), P2;
                P2 -> P2
            end
    end;
tick(P = #{state := ending}) -> flush(P, false);
tick(P) -> P.

%% The probe's own mailbox and memory. (The tracer is shared by every probe: its backlog is judged by the
%% watchdog, which knows whether this probe is getting events, and its memory by lumin_guard.)
watch(P = #{state := armed, budget := #{mailbox := MaxQ, memory := MaxM}}) ->
    case erlang:process_info(self(), [message_queue_len, memory]) of
        [{message_queue_len, Q}, _] when Q > MaxQ ->
            end_probe(mailbox, io_lib:format("the probe's mailbox held ~b messages (budget ~b)", [Q, MaxQ]), P);
        [_, {memory, Mem}] when Mem > MaxM ->
            end_probe(memory, io_lib:format("the probe used ~b MB (budget ~b MB)", [Mem div 1048576, MaxM div 1048576]), P);
        _ -> P
    end;
watch(P) -> P.

%% @doc Send the rows gathered so far, unless too many batches are unacknowledged (they wait, up to the buffer
%% budget). `Force' sends regardless: a probe's last batch always goes. A kind that keeps its rows in its own
%% shape (held/1 and batch/2 of its module: calls) makes the batch itself, with lumin_columns.
flush(P = #{rows := Rows, in_flight := F, dropped_unsent := D, report := Report, name := Name, kind := Kind, mod := M},
      Force) ->
    Own = erlang:function_exported(M, held, 1),
    N = case Own of
            true -> M:held(P);
            false -> lumin_columns:count(Rows)
        end,
    case (N > 0 orelse (Force andalso D > 0)) andalso (Force orelse F < lumin_budget:max_batches_in_flight()) of
        true ->
            {Batch, P1} = case Own of
                              true -> M:batch(D, P);
                              false -> {lumin_columns:encode(Kind, D, Rows), P#{rows := lumin_columns:new(M:columns())}}
                          end,
            Report ! {lumin_event, probe_batch, #{name => Name, node => node(), kind => Kind, batch => Batch, from => self()}},
            P1#{in_flight := F + 1, dropped_unsent := 0};
        false -> P
    end.

%% ---- ending ----------------------------------------------------------------------------------------------

%% @doc Stop counting and remove everything this probe set, now; what is under way drains until finalize/1.
end_probe(Why, Detail, P = #{state := armed, off := Off, mod := M}) ->
    atomics:put(Off, 1, 1),
    stop_watchdog(P),
    P0 = M:undo(P),
    %% A call under way when the probe ends still becomes a row: the trace flags (not the patterns, which undo
    %% removed) stay until its return has come, or the drain time has passed.
    P1 = (case maps:is_key(tracer, P0) andalso callback(open, [P0], 0) > 0 of
              true -> P0#{settling => true};
              false -> stop_tracing(P0)
          end)#{state := ending, why := Why, detail := lumin_lib:utf8(Detail), watchdog := undefined,
                drain_until => erlang:monotonic_time(millisecond) + ?DRAIN_MS},
    report_status(P1),
    %% A tracing probe finishes when the tracer hands on its last chunk; the others once the messages already
    %% sent to this process (queued before this one) are handled.
    case maps:is_key(tracer, P1) of
        true -> ok;
        false -> self() ! {'$lumin', drained}
    end,
    erlang:send_after(?DRAIN_MS, self(), {'$lumin', drain_timeout}),
    P1;
end_probe(_, _, P) -> P.

%% An ending probe whose calls under way have all returned lets its trace flags go (the tracer then hands on
%% what it still holds for it, and `tracer_stopped').
settle(P = #{state := ending, settling := true}) ->
    case callback(open, [P], 0) of
        0 -> stop_tracing(P#{settling := false});
        _ -> P
    end;
settle(P) -> P.

unsettle(P = #{settling := true}) -> stop_tracing(P#{settling := false});
unsettle(P) -> P.

%% @doc The last batch, then `ended'.
finalize(P00 = #{state := ending}) ->
    P0 = unsettle(P00),
    P = callback(finish, [P0], P0),
    P1 = (flush(P, true))#{state := ended},
    report_status(P1),
    release(P1);
finalize(P) -> P.

release(P) ->
    P1 = callback(release, [P#{names := #{}}], P#{names := #{}}),
    case maps:is_key(tracer, P1) of
        true ->
            {min_heap_size, Default} = erlang:system_info(min_heap_size),
            process_flag(min_heap_size, Default);
        false -> ok
    end,
    %% What it held (rows, cut terms, caches) is released now, not at some later collection.
    erlang:garbage_collect(),
    P1.

%% Synchronous end (disarm, stop): handle this probe's own messages until it has ended.
drain_now(P) -> drain_now(P, erlang:monotonic_time(millisecond) + ?DRAIN_MS).

drain_now(P = #{state := ended}, _) -> P;
drain_now(P, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    Mon = maps:get(mon, P, none),
    receive
        M when is_tuple(M), tuple_size(M) >= 2, element(1, M) =:= '$lumin' -> drain_now(event(M, P), Deadline);
        {'$lumin_event', _, _} = M -> drain_now(event(M, P), Deadline);
        %% Replies to requests a kind made (tagged {'$lumin_…', Ref}).
        {{Tag, _}, _} = M when Tag =:= '$lumin_data'; Tag =:= '$lumin_view_done'; Tag =:= '$lumin_state0' ->
            drain_now(event(M, P), Deadline);
        {lumin_ack, _} = M -> drain_now(event(M, P), Deadline);
        {'DOWN', Mon, process, _, _} = M -> drain_now(event(M, P), Deadline)
    after Left ->
        finalize(P)
    end.


%% ---- tracing, for the trace kinds ------------------------------------------------------------------------

%% @doc Trace flags through lumin_trace, which owns the node's one tracer and shares it with every other probe:
%% a message, process and call probe on the same processes work together, each getting its own events.
%% `Tracee': a pid (watched: its exit ends the probe), `new', `all', {family, Pid, Members} or {app, App, Pids};
%% `Wants': the trace message tags the probe wants, or a call probe's route ({calls, Name, MFAs, NoResult, Cut}:
%% the tracer hands it the call messages of its functions). Sets `tracer', `tracee' and `flags' in the probe.
-spec trace(term(), [atom()], [atom()] | tuple(), probe()) -> probe().
trace(Tracee, Flags, Wants, P = #{counter := C}) ->
    {Targets, Route0} = case Tracee of
                            new -> {[new], {all, Wants}};
                            all -> {[all], {all, Wants}};
                            {family, _, Members} -> {Members ++ [new], {all, Wants}};
                            {app, _, Pids} -> {Pids, {all, Wants}};
                            Pid when is_pid(Pid) -> {[Pid], {pids, Wants, [Pid]}}
                        end,
    Route = case Wants of
                {calls, _, _, _, _} -> Wants;
                _ -> Route0
            end,
    %% Room for a chunk of trace messages and the rows made of it (fewer collections under a flood), given
    %% back when it has ended.
    process_flag(min_heap_size, ?TRACING_HEAP),
    T = case lumin_trace:acquire(self(), {Targets, Flags}, Route, C) of
            {ok, Tr} -> Tr;
            {error, Msg} -> throw({error, Msg})
        end,
    %% Flags on every process reach this probe too, and a call probe's its owner (the agent): never their own
    %% calls or messages.
    Ours = [self()] ++ [maps:get(owner, P) || element(1, Route) =:= calls],
    _ = [catch erlang:trace(X, false, Flags) || Tracee =:= all orelse Tracee =:= new, X <- Ours,
                                                erlang:trace_info(X, tracer) =:= {tracer, T}],
    P1 = P#{tracer => T, tracee => Tracee, flags => Flags},
    case Tracee of
        P2 when is_pid(P2) -> P1#{mon => erlang:monitor(process, P2)};
        _ -> P1
    end.

untrace_self() ->
    case erlang:trace_info(self(), tracer) of
        {tracer, T} when is_pid(T) ->
            case lumin_trace:tracer() of
                T -> {flags, Fs} = erlang:trace_info(self(), flags), erlang:trace(self(), false, Fs);
                _ -> ok
            end;
        _ -> ok
    end.

%% @doc This probe's flags off one process (an agent process, or one outside a --procs family); timestamps stay,
%% as other probes may trace the same process.
untrace(Pid, #{tracer := T, flags := Flags}) ->
    case erlang:trace_info(Pid, tracer) of
        {tracer, T} -> catch erlang:trace(Pid, false, Flags -- [monotonic_timestamp]), ok;
        _ -> ok
    end.

%% Remove our flags (only what no other probe needs), make sure every trace message generated so far reached
%% the tracer, and let it hand on what it holds for this probe: `tracer_stopped' follows.
stop_tracing(P = #{tracer := _}) ->
    lumin_trace:release(self(), flags_only),
    Ref = erlang:trace_delivered(all),
    receive {trace_delivered, all, Ref} -> ok after 1000 -> ok end,
    lumin_trace:release(self()),
    P;
stop_tracing(P) -> P.

%% @doc Whether `Pid' is one of the agent's processes (this probe and its tracer included): never watched.
ours(Pid, P) ->
    Pid =:= self() orelse Pid =:= maps:get(tracer, P, undefined) orelse lumin_lib:agent_process(Pid).

%% ---- row helpers, for the kinds --------------------------------------------------------------------------

%% @doc A monotonic timestamp (ns) as microseconds of system time.
us(MonotonicNs, #{offset_ns := Off}) -> (MonotonicNs + Off) / 1000.

%% @doc A process's label (lumin_lib:label/1: registered name, proc_lib label, process_name, initial call),
%% cached in the probe: {Label, Probe}.
name_of(Pid, P = #{names := Names}) when is_pid(Pid), node(Pid) =:= node() ->
    case Names of
        #{Pid := N} -> {N, P};
        _ ->
            N = lumin_lib:label(Pid),
            {N, P#{names := case map_size(Names) >= ?MAX_CACHE of true -> #{Pid => N}; false -> Names#{Pid => N} end}}
    end;
name_of(_, P) -> {undefined, P}.

%% ---- the watchdog ---------------------------------------------------------------------------------------
%% The probe cannot enforce its rate, mailbox or memory budget on its own under a flood: its ticks wait in
%% its mailbox behind the very messages it is drowning in. The watchdog is a process of its own whose mailbox
%% holds nothing else. Every ?WD_TICK ms it reads how many events the source produced (a counters cell that
%% the tracer bumps once per chunk, and the sys, telemetry and logger callbacks once per event) and the
%% mailbox and memory of the probe and its tracer. Past a budget it stops the flood at its source at once —
%% it sets the flag the callbacks check and removes the probe's trace flags (only where the tracer is the
%% probe's) — and records why in the `off' atomics; the probe ends with that reason at its next message and
%% drops, counting them, the events already queued.

-define(WD_TICK, 100).
-define(WD_WINDOW, 10).

start_watchdog(P = #{counter := C, off := Off, budget := Budget, kind := K}) ->
    Source = case P of
                 #{tracer := T, tracee := Tracee, flags := Flags} -> {T, Tracee, Flags};
                 _ -> none
             end,
    %% A kind may count its events at the source (a call probe: the VM's call counts) and stop them there (its
    %% trace patterns); by default the count is the counter its tracer or callbacks bump.
    A = #{probe => self(), counter => C, off => Off, budget => Budget, source => Source,
          since => maps:get(armed_at, P), kind => K,
          count => maps:get(source_count, P, fun() -> counters:get(C, 1) end),
          stop => maps:get(stop_source, P, fun() -> ok end)},
    W = proc_lib:spawn(?MODULE, watchdog, [A]),
    %% Flags set on `all' reach processes spawned later: the watchdog's calls must not feed its probe.
    _ = [catch erlang:trace(W, false, Flags) || {T, _, Flags} <- [Source], erlang:trace_info(W, tracer) =:= {tracer, T}],
    %% The node-wide memory budget: this probe's process and its tracer count, and it ends this probe alone.
    Stop = fun(_Detail) -> wd_stop(4, 0, A) end,
    lumin_guard:enlist(self(), maps:get(name, P), Stop, maps:get(tables, P, [])),
    P#{watchdog := W}.

stop_watchdog(#{watchdog := W}) when is_pid(W) -> exit(W, kill);
stop_watchdog(_) -> ok.

%% @private The watchdog's process.
watchdog(A = #{probe := Probe, counter := C, count := Count}) ->
    erlang:monitor(process, Probe),
    %% High priority: under a flood the processes at normal priority (the flooded ones, the tracer, the probe)
    %% take turns for many milliseconds each; the watchdog's few microseconds a tick must not wait behind them,
    %% or a budget (mailbox, time) is seen seconds late while the node's memory grows.
    process_flag(priority, high),
    wd_loop(A#{tracee_q0 => tracee_queue(A), samples => [{erlang:monotonic_time(millisecond), Count()}],
               hook => [{erlang:monotonic_time(), counters:get(C, 2)}]}).

wd_loop(A = #{samples := Samples, counter := C, count := CountFun, budget := #{rate := MaxRate, time_ms := MaxT},
              since := Since, hook := Hook}) ->
    receive
        {'DOWN', _, process, _, _} -> ok
    after ?WD_TICK ->
        Now = erlang:monotonic_time(millisecond),
        Count = CountFun(),
        %% The tracer counts per chunk, so the rate is judged over about a second; a flood (four times the
        %% budget over the last 300 ms) is judged at once.
        {T0, C0} = lists:last(Samples),
        Long = case Now - T0 >= 500 of
                   true -> (Count - C0) * 1000 / (Now - T0);
                   false -> 0
               end,
        Short = case Samples of
                    [_, _, {T3, C3} | _] -> (Count - C3) * 1000 / max(1, Now - T3);
                    _ -> 0
                end,
        {Q, M} = load(A),
        #{budget := #{mailbox := MaxQ, memory := MaxM}} = A,
        %% A state probe's cost: the time its hook took in the watched process, as a share of the wall time,
        %% over the last second (judged once half a second has passed).
        NowN = erlang:monotonic_time(),
        HookNow = counters:get(C, 2),
        {H0, HC0} = lists:last(Hook),
        Share = case erlang:convert_time_unit(NowN - H0, native, millisecond) >= 500 of
                    true -> (HookNow - HC0) / max(1, NowN - H0);
                    false -> 0
                end,
        MaxShare = lumin_budget:state_share(),
        Grew = tracee_queue(A) - maps:get(tracee_q0, A),
        if
            Grew > MaxQ -> wd_stop(7, Grew, A);
            Long > MaxRate -> wd_stop(1, Long, A);
            Short > 4 * MaxRate -> wd_stop(1, Short, A);
            Q > MaxQ -> wd_stop(2, Q, A);
            M > MaxM -> wd_stop(3, M, A);
            Share > MaxShare -> wd_stop(5, round(Share * 1000), A);
            Now - Since >= MaxT -> wd_stop(6, MaxT, A);
            true -> wd_loop(A#{samples := lists:sublist([{Now, Count} | Samples], ?WD_WINDOW),
                               hook := lists:sublist([{NowN, HookNow} | Hook], ?WD_WINDOW)})
        end
    end.

%% Mailbox length and memory of the probe, and — when events for this probe came in since the last look (it is
%% one cause of the load, not an idle neighbour) — the backlog of the tracer it shares with every probe.
load(#{probe := P, source := Source, count := Count, samples := Samples}) ->
    %% Over the whole window, not one tick: a tracer deep in a flood may hand on no chunk for a tick or two.
    {_, Last} = lists:last(Samples),
    Busy = Count() > Last,
    %% The tracer's mailbox length only (O(1)); its memory is lumin_guard's to judge.
    TQ = case Source of
             {T, _, _} when Busy -> queue_len(T);
             _ -> 0
         end,
    case erlang:process_info(P, [message_queue_len, memory]) of
        [{message_queue_len, Q}, {memory, M}] -> {Q + TQ, M};
        undefined -> {TQ, 0}
    end.

%% The mailbox of the one process a message or process probe watches (0 otherwise). Tracing makes each of its
%% sends and receives cost a copy to the tracer: under a flood it falls behind its senders and its mailbox —
%% the node's memory, not the agent's — grows without bound, while the agent's own queues stay small.
tracee_queue(#{source := {_, Pid, _}}) when is_pid(Pid) -> queue_len(Pid);
tracee_queue(_) -> 0.

queue_len(Pid) ->
    case erlang:process_info(Pid, message_queue_len) of
        {message_queue_len, N} -> N;
        undefined -> 0
    end.

wd_stop(Code, Figure, #{off := Off, probe := Probe, source := Source, stop := Stop}) ->
    atomics:put(Off, 3, round(Figure)),
    atomics:put(Off, 2, Code),
    atomics:put(Off, 1, 1),
    Stop(),
    case Source of
        {_, _, _} -> lumin_trace:release(Probe, flags_only);
        none -> ok
    end,
    Probe ! {'$lumin', watchdog},
    ok.

%% The probe, at each message: did the watchdog stop the source?
heed_watchdog(P = #{state := armed, off := Off, budget := B, mod := M}) ->
    case atomics:get(Off, 2) of
        0 -> P;
        Code ->
            Fig = atomics:get(Off, 3),
            {Why, Detail} =
                case Code of
                    1 -> {rate, io_lib:format("rate budget of ~b ~ts/s exceeded (~b/s); stopped at the source",
                                              [round(maps:get(rate, B)), M:noun(), Fig])};
                    2 -> {mailbox, io_lib:format("~b messages waited on the node for the probe (budget ~b)",
                                                 [Fig, maps:get(mailbox, B)])};
                    3 -> {memory, io_lib:format("the probe used ~b MB (budget ~b MB)",
                                                [Fig div 1048576, maps:get(memory, B) div 1048576])};
                    4 -> {memory, <<"the node-wide memory budget was exceeded and this probe held the most">>};
                    7 -> {overload, io_lib:format("the watched process's mailbox grew by ~b messages while traced (budget ~b): "
                                                  "tracing slowed it below the rate its senders send at", [Fig, maps:get(mailbox, B)])};
                    5 -> {cost, io_lib:format("the state hook took ~.1f% of the watched process's time (budget ~b%): "
                                              "the probe would slow the process it watches", [Fig / 10, round(lumin_budget:state_share() * 100)])};
                    _ -> {time, io_lib:format("time budget of ~.1f s spent", [maps:get(time_ms, B) / 1000])}
                end,
            end_probe(Why, Detail, P#{flooded => true})
    end;
heed_watchdog(P) -> P.

%% ---- reporting ----------------------------------------------------------------------------------------

report_status(P = #{report := Report}) ->
    Report ! {lumin_event, probe_status, summary(P)}.

summary(#{name := Name, kind := K, target := Target, state := St, seen := Seen, dropped := D, rate := R, why := Why,
          detail := Det}) ->
    #{name => Name, node => atom_to_binary(node(), utf8), kind => K, target => Target, state => St,
      seen => Seen, dropped => D, rate => R, why_ended => Why, detail => Det}.

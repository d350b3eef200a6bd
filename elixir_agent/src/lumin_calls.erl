%% @doc Call probes: arm a trace pattern on a function, pair each call with its return or exception, and ship
%% the completed calls to the bridge as columnar batches (the `calls' table of kernel/tables/schemas.ts).
%%
%% One collector per agent serves every call probe on the node, because legacy tracing gives a process one
%% tracer: a single tracer (lumin_tracer) receives all call trace messages and hands them here in chunks.
%% The safety rules of lumin_budget apply; in particular:
%%   * before tracing it refuses when anything else already traces the function or any process (:dbg, recon,
%%     another tool) — it never changes tracing it did not set up, and never clears "all" patterns or flags;
%%   * every way a probe ends (a budget, a disarm, the owner going away) removes exactly the patterns it set,
%%     and the call flags go when the last call probe ends, only on processes whose tracer is ours;
%%   * a function that calls itself in tail position gets a warning before return tracing is armed on it.
%% On OTP 27+ trace sessions (trace:session_create/3) would give each probe its own tracer; OTP 25 has only
%% the legacy API, which is what this module uses.
-module(lumin_calls).
-behaviour(gen_server).

-export([start_link/2, arm/3, disarm/2, list/1, stop/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(FLAGS, [call, arity, monotonic_timestamp]).
%% The columns of a batch (the `calls' table): node, pid, process, module, function, arity, depth, start_us,
%% duration_us, outcome, result, exception_class, exception_reason, args — built by encode/4.
%% How long a probe that stopped counting waits at most for the returns of calls already under way (it ends
%% as soon as the tracer has handed on everything traced before it stopped and no counted call is open).
-define(DRAIN_MS, 500).
%% The collector's least heap while it traces, in words (1.6 MB on a 64-bit node): fewer collections of a
%% heap that holds the rows of a batch. Back to the node's default when tracing stops.
-define(TRACING_HEAP, 200000).

%% The per-message state of a probe, kept in the collector's process dictionary under the probe's id (an
%% integer; the stack of calls under way of each traced process is kept there too, under its pid), so that
%% a trace message costs a lookup and an update of a small tuple, not of the collector's state maps.
%%   seen: calls counted; limit: the count budget; end_ts: calls made after it are not counted (infinity
%%   while armed); open: counted calls whose return has not come yet; rows/n: completed calls not yet sent
%%   (newest first); buffer: the buffer budget; dropped/unsent: rows dropped in all / not yet reported in a
%%   batch; full: the buffer budget was hit.
%%   cut: the cut size of its terms; no_result: its calls end on return_to, without a result.
-record(hot, {seen = 0, limit, end_ts = infinity, open = 0, rows = [], n = 0, buffer, dropped = 0, unsent = 0,
              full = false, cut = 4096, no_result = false, summary = undefined}).
%% summary: for a probe armed with `summary' (--summary), the lumin_summary it folds completed calls into instead
%% of making rows; its sketches are shipped on ticks (ship_summary/5). The hook is add_row/3's first clause.
%% A value whose external format is small for sure: kept as it is, without measuring it.
-define(SMALL(V), (is_atom(V) orelse is_float(V) orelse is_pid(V) orelse
                   (is_integer(V) andalso V >= -16#80000000 andalso V =< 16#7fffffff))).

%% ---- API -------------------------------------------------------------------------------------------

-spec start_link(pid(), pid()) -> {ok, pid()}.
start_link(Report, Owner) -> gen_server:start_link(?MODULE, {Report, Owner}, []).

%% @doc Arm a call probe. Spec: module, function (binaries), arity (integer | undefined = every arity),
%% args (boolean), match_spec ([{Head, Guards}] | undefined), load (boolean), target (text), and budgets.
-spec arm(pid(), binary(), map()) -> {ok, map()} | {error, binary()}.
arm(Pid, Name, Spec) -> gen_server:call(Pid, {arm, Name, Spec}, 30000).

-spec disarm(pid(), binary() | all) -> ok.
disarm(Pid, Which) -> gen_server:call(Pid, {disarm, Which}, 30000).

-spec list(pid()) -> [map()].
list(Pid) -> gen_server:call(Pid, list, 30000).

%% @doc Remove every pattern and flag this collector set, then stop. Synchronous.
-spec stop(pid()) -> ok.
stop(Pid) -> gen_server:stop(Pid, normal, 30000).

%% ---- state ------------------------------------------------------------------------------------------

init({Report, Owner}) ->
    process_flag(trap_exit, true),
    %% Chunks waiting in the mailbox are not copied by each garbage collection.
    process_flag(message_queue_data, off_heap),
    erlang:send_after(lumin_budget:tick_ms(), self(), tick),
    {ok, #{report => Report, owner => Owner, tracer => undefined, watchdog => undefined, return_to => false, probes => #{}, routes => #{},
           ids => #{}, next_id => 1, names => #{}, offset_ns => erlang:time_offset(nanosecond)}}.

handle_call({arm, Name, Spec}, _From, S) ->
    case catch do_arm(Name, Spec, S) of
        {ok, Info, S1} -> {reply, {ok, Info}, S1};
        {error, Msg} -> {reply, {error, unicode:characters_to_binary(Msg)}, S};
        Other -> {reply, {error, iolist_to_binary(io_lib:format("could not arm the probe: ~0p", [Other]))}, S}
    end;
%% A disarmed probe stops counting now and drains: calls already made are still on their way through the
%% tracer, and become rows before the probe ends (see end_probe/5).
handle_call({disarm, all}, _From, S = #{probes := Ps}) ->
    S1 = maps:fold(fun(N, _, Acc) -> end_probe(N, disarmed, <<"disarmed by the user">>, Acc) end, S, Ps),
    {reply, ok, S1};
handle_call({disarm, Name}, _From, S = #{probes := Ps}) ->
    case Ps of
        #{Name := _} -> {reply, ok, end_probe(Name, disarmed, <<"disarmed by the user">>, S)};
        _ -> {reply, ok, S}
    end;
handle_call(list, _From, S = #{probes := Ps}) ->
    {reply, [summary(P) || P <- maps:values(Ps)], S}.

handle_cast(_, S) -> {noreply, S}.

handle_info({'$lumin', chunk, Msgs}, S = #{routes := Routes}) ->
    %% The tracer hands a chunk on newest first.
    trace_all(lists:reverse(Msgs), Routes),
    {noreply, after_chunk(S)};
handle_info({lumin_ack, Name}, S = #{probes := Ps}) ->
    case Ps of
        #{Name := P = #{in_flight := F}} -> {noreply, S#{probes := Ps#{Name := P#{in_flight := max(0, F - 1)}}}};
        _ -> {noreply, S}
    end;
handle_info({'$lumin', summary_due, Name}, S = #{probes := Ps}) ->
    %% A summary probe's interval ended (ship_summary/5 sets the timer): its sketches go now, not at the next tick.
    case Ps of
        #{Name := #{state := St}} when St =/= ended -> {noreply, flush(Name, S, false)};
        _ -> {noreply, S}
    end;
handle_info(tick, S) ->
    erlang:send_after(lumin_budget:tick_ms(), self(), tick),
    {noreply, tick(S)};
handle_info({'$lumin', watchdog_end, Name, Why, Detail, Ts}, S) ->
    {noreply, end_probe(Name, Why, Detail, Ts, S)};
handle_info({'$lumin', too_big, MFA, Detail, Ts}, S = #{routes := Routes, ids := Ids}) ->
    %% The tracer untraced MFA already: a single term it got was over the memory budget.
    case Routes of
        #{MFA := Id} -> {noreply, end_probe(maps:get(Id, Ids), memory, Detail, Ts, S)};
        _ -> {noreply, S}
    end;
handle_info({trace_delivered, all, Ref}, S = #{tracer := T}) ->
    %% Every trace message made before the probe ended is in the tracer's mailbox: have it hand on what it
    %% holds, then the marker.
    case is_pid(T) of
        true -> lumin_tracer:mark(T, Ref);
        false -> self() ! {'$lumin', marker, Ref}
    end,
    {noreply, S};
handle_info({'$lumin', marker, Ref}, S = #{probes := Ps}) ->
    {noreply, maps:fold(fun(Name, P = #{state := draining, drain_ref := R}, Acc) when R =:= Ref ->
                                 drained(Name, Acc#{probes := (maps:get(probes, Acc))#{Name := P#{marked := true}}});
                            (_, _, Acc) -> Acc
                         end, S, Ps)};
handle_info({'$lumin', tracer_stopped, _}, S) ->
    {noreply, S};
handle_info(_, S) ->
    {noreply, S}.

terminate(_Reason, S = #{probes := Ps}) ->
    S1 = maps:fold(fun(N, P, Acc) ->
                           case maps:get(state, P) of
                               ended -> Acc;
                               _ -> end_probe(N, disarmed, <<"the agent stopped">>, Acc)
                           end
                   end, S, Ps),
    _ = finalize_all(S1),
    ok.

%% ---- arming -----------------------------------------------------------------------------------------

do_arm(Name, Spec, S = #{probes := Ps, routes := Routes, ids := Ids, next_id := Id}) ->
    case Ps of
        #{Name := #{state := St}} when St =/= ended -> throw({error, ["a probe named ", Name, " is already armed; pick another name with --as"]});
        _ -> ok
    end,
    %% A summary keeps no rows, so its count budget is only the one asked for; time and rate still hold.
    Summary = summary_of(Spec),
    Budget = case Summary =/= undefined andalso not is_integer(maps:get(limit, Spec, undefined)) of
                 true -> (lumin_budget:resolve(Spec))#{limit := 1 bsl 60};
                 false -> lumin_budget:resolve(Spec)
             end,
    Cut = lumin_budget:cut_bytes(Spec),
    %% One function, every arity of one, every function of a module (function undefined), or several
    %% (`functions': a list of #{module, function, arity}), all in one probe.
    Targets = case maps:get(functions, Spec, undefined) of
                  L when is_list(L), L =/= [] -> L;
                  _ -> [Spec]
              end,
    MFAs = lists:usort(lists:append(
             [resolve_functions(resolve_module(maps:get(module, T), maps:get(load, Spec, true)),
                                opt(maps:get(function, T, undefined)), opt(maps:get(arity, T, undefined))) || T <- Targets])),
    [refuse_if_traced(MFA, Routes, Ids) || MFA <- MFAs],
    Args = maps:get(args, Spec, false) =:= true,
    NoResult = maps:get(no_result, Spec, false) =:= true,
    %% Without results the VM is not asked for return values (no copy of them is made): durations come from
    %% the return_to trace flag instead, which says when the traced function returned to its caller.
    Body = [{exception_trace} || not NoResult] ++ [{message, '$_'} || Args],
    MS = case maps:get(match_spec, Spec, undefined) of
             undefined -> [{'_', [], Body}];
             Clauses -> [{H, G, Body} || {H, G} <- Clauses]
         end,
    %% Checked before anything is set: a pattern the VM would refuse leaves no trace flag behind.
    check_match_spec(MS, hd(MFAs)),
    S1 = ensure_tracing(S, NoResult),
    %% All or nothing: if setting a pattern fails, every pattern this arm set goes, and the tracing it
    %% started too when no other probe uses it.
    Set = try [MFA || MFA <- MFAs, erlang:trace_pattern(MFA, MS, [local]) > 0]
          catch C:R ->
                  [erlang:trace_pattern(MFA, false, [local]) || MFA <- MFAs, not maps:is_key(MFA, Routes)],
                  _ = maybe_stop_tracing(S1),
                  throw({error, io_lib:format("the VM refused the trace pattern for ~ts (~p:~0P); nothing was left traced",
                                              [fmt_mfa(hd(MFAs)), C, R, 12])})
          end,
    case Set of
        [] -> _ = maybe_stop_tracing(S1), throw({error, ["the match pattern was not accepted for ", fmt_mfa(hd(MFAs))]});
        _ -> ok
    end,
    Now = erlang:monotonic_time(millisecond),
    P = #{name => Name, id => Id, target => maps:get(target, Spec, fmt_mfa(hd(MFAs))), kind => calls,
          mfas => Set, budget => Budget, state => armed, seen => 0, dropped => 0, in_flight => 0, armed_at => Now,
          last_tick => Now, last_seen => 0, rate => 0.0, why => undefined, detail => undefined,
          drain_until => undefined, drain_ref => undefined, marked => false, args => Args, no_result => NoResult, cut => Cut},
    put(Id, #hot{limit = maps:get(limit, Budget), buffer = maps:get(buffer, Budget), cut = Cut, no_result = NoResult,
                 summary = Summary}),
    Routes1 = lists:foldl(fun(MFA, R) -> R#{MFA => Id} end, Routes, Set),
    S2 = S1#{probes := Ps#{Name => P}, routes := Routes1, ids := Ids#{Id => Name}, next_id := Id + 1},
    lumin_watchdog:armed(maps:get(watchdog, S2), Name, Id, Set, Budget),
    Summary =/= undefined andalso erlang:send_after(lumin_summary:ms_to_next(Summary), self(), {'$lumin', summary_due, Name}),
    lumin_tracer:cut(maps:get(tracer, S2), lists:max([C || #{cut := C, state := St} <- maps:values(maps:get(probes, S2)), St =/= ended])),
    status(P, S2),
    Warnings = [W || not NoResult, MFA <- Set, W <- [tail_warning(MFA)], W =/= none],
    {ok, #{mfas => [fmt_mfa(M) || M <- Set], warnings => Warnings}, S2}.

%% `summary' => #{every_ms, alpha}: a lumin_summary, or undefined for a probe that keeps rows.
summary_of(Spec) ->
    case maps:get(summary, Spec, undefined) of
        #{every_ms := E} = Sm when is_integer(E), E >= 100 ->
            A = maps:get(alpha, Sm, lumin_sketch:default_alpha()),
            (is_number(A) andalso A >= 0.0001 andalso A =< 0.1) orelse
                throw({error, io_lib:format("--error ~p is out of range: give 0.0001 to 0.1 (0.01 is 1%)", [A])}),
            lumin_summary:new(A, E);
        #{every_ms := E} -> throw({error, io_lib:format("--every ~b ms is too short for a summary: give 100ms or more", [E])});
        _ -> undefined
    end.

%% Absent (JavaScript's null arrives as nil).
opt(nil) -> undefined;
opt(null) -> undefined;
opt(V) -> V.

check_match_spec(MS, MFA) ->
    case erlang:match_spec_test([], MS, trace) of
        {ok, _, _, _} -> ok;
        {error, Errors} ->
            throw({error, ["the match pattern for ", fmt_mfa(MFA), " is not valid on the node: ",
                           lists:join("; ", [unicode:characters_to_binary(E) || {_, E} <- Errors]),
                           ". Nothing was traced."]})
    end.

resolve_module(Bin, Load) ->
    case catch binary_to_existing_atom(Bin, utf8) of
        M when is_atom(M) ->
            case erlang:module_loaded(M) of
                true -> M;
                false when Load -> load(M, Bin);
                false -> not_loaded(Bin)
            end;
        _ when Load ->
            case code:where_is_file(binary_to_list(Bin) ++ ".beam") of
                non_existing -> throw({error, ["there is no module ", Bin, " on ", atom_to_list(node())]});
                %% A module that exists on disk gets its atom when it loads anyway: this is not user input.
                _ -> load(binary_to_atom(Bin, utf8), Bin)
            end;
        _ -> not_loaded(Bin)
    end.

load(M, Bin) ->
    case code:ensure_loaded(M) of
        {module, M} -> M;
        {error, Why} -> throw({error, io_lib:format("module ~ts could not be loaded: ~p", [Bin, Why])})
    end.

not_loaded(Bin) ->
    Where = case code:where_is_file(binary_to_list(Bin) ++ ".beam") of
                non_existing -> " and no such module is in its code path";
                _ -> "; it exists on disk: load it first, or probe without --no-load"
            end,
    throw({error, ["module ", fmt_mod_bin(Bin), " is not loaded on ", atom_to_list(node()), Where,
                   " (a trace pattern only matches loaded modules)"]}).

%% Every function of the module, but module_info and the compiler's own (funs, comprehensions).
resolve_functions(M, undefined, _) ->
    case [{M, F, A} || {F, A} <- M:module_info(functions), F =/= module_info,
                       not lists:prefix("-", atom_to_list(F))] of
        [] -> throw({error, [fmt_mod(M), " has no functions to probe"]});
        MFAs -> MFAs
    end;
resolve_functions(M, FunBin, Arity) ->
    Fns = M:module_info(functions),
    F = case catch binary_to_existing_atom(FunBin, utf8) of
            A when is_atom(A) -> A;
            _ -> no_function(M, FunBin, Arity, Fns)
        end,
    case [{M, F, Ar} || {Fn, Ar} <- Fns, Fn =:= F, Arity =:= undefined orelse Ar =:= Arity] of
        [] -> no_function(M, FunBin, Arity, Fns);
        MFAs -> MFAs
    end.

no_function(M, FunBin, Arity, Fns) ->
    Same = lists:usort([io_lib:format("~ts/~b", [Fn, A]) || {Fn, A} <- Fns, atom_to_binary(Fn, utf8) =:= FunBin]),
    Hint = case Same of
               [] -> "";
               _ -> [" (it has ", lists:join(", ", Same), ")"]
           end,
    What = case Arity of undefined -> FunBin; _ -> io_lib:format("~ts/~b", [FunBin, Arity]) end,
    throw({error, [fmt_mod(M), " has no function ", What, Hint]}).

refuse_if_traced(MFA, Routes, Ids) ->
    case Routes of
        #{MFA := Other} -> throw({error, [fmt_mfa(MFA), " is already probed by ", maps:get(Other, Ids), "; disarm it first"]});
        _ -> ok
    end,
    case erlang:trace_info(MFA, traced) of
        {traced, false} -> ok;
        _ -> throw({error, [fmt_mfa(MFA), " already has a trace pattern set by another tool (:dbg, recon…);"
                            " ElixirLumin does not change tracing it did not set up. Remove that pattern first."]})
    end.

%% Call tracing on every process, through lumin_trace (which owns the node's one tracer and shares it with the
%% other kinds of probes). Refused when another tool's tracer is at work on the node. A probe without results
%% adds the return_to flag (kept until call tracing stops: it is a process flag, so while it is set, probes
%% with results get a return_to message after each return_from, which the collector skips).
ensure_tracing(S = #{tracer := T, return_to := RT}, NoResult) when is_pid(T) ->
    case NoResult andalso not RT of
        true ->
            case lumin_trace:acquire(self(), {[all], [return_to]}, calls, maps:get(counter, S)) of
                {ok, _} -> ok;
                {error, Msg} -> throw({error, Msg})
            end,
            put('$return_to', true),
            S#{return_to := true};
        false -> S
    end;
ensure_tracing(S, NoResult) ->
    Counter = counters:new(1, [write_concurrency]),
    Flags = ?FLAGS ++ [return_to || NoResult],
    Tracer = case lumin_trace:acquire(self(), {[all], Flags}, calls, Counter) of
                 {ok, T} -> T;
                 {error, Msg} -> throw({error, Msg})
             end,
    Watchdog = lumin_watchdog:start(self(), Tracer, Counter),
    Stop = fun(Detail) -> lumin_watchdog:overload(Watchdog, memory, Detail) end,
    lumin_guard:enlist(self(), calls, Stop),
    process_flag(min_heap_size, ?TRACING_HEAP),
    %% Our own processes are never traced: a probe on a function the agent uses must not feed itself.
    [catch erlang:trace(P, false, Flags) || P <- [self(), Watchdog, maps:get(owner, S)]],
    put('$return_to', NoResult),
    S#{tracer := Tracer, watchdog := Watchdog, return_to := NoResult, counter => Counter}.

stop_tracing(S = #{tracer := undefined}) -> S;
stop_tracing(S = #{watchdog := Watchdog}) ->
    lumin_watchdog:stop(Watchdog),
    lumin_trace:release(self()),
    [erase(K) || {K, _} <- get(), is_pid(K) orelse (is_tuple(K) andalso element(1, K) =:= skip)],
    erase('$return_to'),
    {min_heap_size, Default} = erlang:system_info(min_heap_size),
    process_flag(min_heap_size, Default),
    erlang:garbage_collect(),
    S#{tracer := undefined, watchdog := undefined, return_to := false}.

%% A function that calls itself in tail position grows the stack under return tracing. Its code is read from
%% the debug info only when that creates no atom on the node (binary_to_term/2 with `safe'): reading it
%% otherwise would add the module's variable names to the atom table, for good.
tail_warning({M, F, A} = MFA) ->
    Forms = case code:which(M) of
                File when is_list(File) ->
                    case beam_lib:chunks(File, ["Dbgi"]) of
                        {ok, {_, [{"Dbgi", Bin}]}} when is_binary(Bin) -> forms(Bin);
                        _ -> []
                    end;
                _ -> []
            end,
    Clauses = [Cs || {function, _, Fn, Ar, Cs} <- Forms, Fn =:= F, Ar =:= A] ++ elixir_clauses(Forms, F, A),
    case lists:any(fun(Cs) -> lists:any(fun(C) -> tail_calls_self(C, F, A) end, Cs) end, Clauses) of
        true -> iolist_to_binary([fmt_mfa(MFA), " calls itself in tail position: return tracing keeps a stack frame "
                                  "per call, so on a long-running loop the stack grows without bound. Consider "
                                  "probing a function the loop calls instead, keep --limit low, or use --no-result "
                                  "(which needs no return tracing)."]);
        false -> none
    end.

%% Erlang abstract forms, or Elixir's definitions, from a debug info chunk; [] when reading them would create atoms.
forms(Bin) ->
    try binary_to_term(Bin, [safe]) of
        {debug_info_v1, erl_abstract_code, {Forms, _}} when is_list(Forms) -> Forms;
        {debug_info_v1, elixir_erl, {elixir_v1, #{definitions := Defs}, _}} -> [{elixir, Defs}];
        _ -> []
    catch error:badarg -> []
    end.

%% Elixir definitions ({{Name, Arity}, Kind, Meta, Clauses}; each clause {Meta, Args, Guards, Body}) as
%% clauses tail_calls_self/3 reads.
elixir_clauses(Forms, F, A) ->
    [[{clause, 0, Args, Guards, ex_body(Body)} || {_, Args, Guards, Body} <- Cs]
     || {elixir, Defs} <- Forms, {{Fn, Ar}, _, _, Cs} <- Defs, Fn =:= F, Ar =:= A].

ex_body({'__block__', _, Exprs}) when is_list(Exprs), Exprs =/= [] -> [ex_expr(lists:last(Exprs))];
ex_body(E) -> [ex_expr(E)].

ex_expr({F, _, Args}) when is_atom(F), is_list(Args), F =/= 'case', F =/= 'if', F =/= 'cond', F =/= 'receive' ->
    {call, 0, {atom, 0, F}, Args};
ex_expr({'case', _, [_, [{do, Cs}]]}) when is_list(Cs) -> {'case', 0, x, [{clause, 0, [], [], ex_body(B)} || {'->', _, [_, B]} <- Cs]};
ex_expr({'cond', _, [[{do, Cs}]]}) when is_list(Cs) -> {'case', 0, x, [{clause, 0, [], [], ex_body(B)} || {'->', _, [_, B]} <- Cs]};
ex_expr(_) -> other.

tail_calls_self({clause, _, _, _, Body}, F, A) -> tail_expr(lists:last(Body), F, A);
tail_calls_self(_, _, _) -> false.

tail_expr({call, _, {atom, _, F}, Args}, F, A) -> length(Args) =:= A;
tail_expr({'case', _, _, Cs}, F, A) -> lists:any(fun(C) -> tail_calls_self(C, F, A) end, Cs);
tail_expr({'if', _, Cs}, F, A) -> lists:any(fun(C) -> tail_calls_self(C, F, A) end, Cs);
tail_expr({'receive', _, Cs}, F, A) -> lists:any(fun(C) -> tail_calls_self(C, F, A) end, Cs);
tail_expr({'receive', _, Cs, _, After}, F, A) ->
    lists:any(fun(C) -> tail_calls_self(C, F, A) end, Cs) orelse tail_expr(lists:last(After), F, A);
tail_expr(_, _, _) -> false.

%% ---- the collector's work -----------------------------------------------------------------------------
%% Per trace message: a lookup of the route, a push or pop on the process's stack and an update of the
%% probe's #hot{} tuple, all in the process dictionary. A completed call becomes a row tuple; rows become
%% columns in bulk when a batch is sent (encode/4).

%% A call followed at once by its return (a call that made no traced call; most are) becomes a row without
%% touching the process's stack.
trace_all([{trace_ts, Pid, call, MFA, T0}, {trace_ts, Pid, return_from, MFA, Result, T1}, {trace_ts, Pid, return_to, _, _} | Ms], Routes) ->
    %% (the return_to flag is on for a probe without results: the return_to of this return is skipped)
    leaf(Pid, MFA, undefined, T0, return, Result, T1, Routes),
    trace_all(Ms, Routes);
trace_all([{trace_ts, Pid, call, MFA, T0}, {trace_ts, Pid, return_from, MFA, Result, T1} | Ms], Routes) ->
    leaf(Pid, MFA, undefined, T0, return, Result, T1, Routes),
    trace_all(Ms, Routes);
trace_all([{trace_ts, Pid, call, MFA, T0} = C, {trace_ts, Pid, return_to, _, T1} = R | Ms], Routes) ->
    %% A call of a probe without results, ended by its return to the caller — unless calls are open under
    %% it (a chain of tail calls, which this return_to ends too).
    case get(Pid) of
        undefined -> leaf(Pid, MFA, undefined, T0, undefined, undefined, T1, Routes);
        _ -> trace(C, Routes), trace(R, Routes)
    end,
    trace_all(Ms, Routes);
trace_all([{trace_ts, Pid, call, MFA, Args, T0}, {trace_ts, Pid, return_from, MFA, Result, T1} | Ms], Routes) ->
    leaf(Pid, MFA, Args, T0, return, Result, T1, Routes),
    trace_all(Ms, Routes);
trace_all([{trace_ts, Pid, call, MFA, T0}, {trace_ts, Pid, exception_from, MFA, {Class, Reason}, T1} | Ms], Routes) ->
    leaf(Pid, MFA, undefined, T0, Class, Reason, T1, Routes),
    trace_all(Ms, Routes);
trace_all([{trace_ts, Pid, call, MFA, Args, T0}, {trace_ts, Pid, exception_from, MFA, {Class, Reason}, T1} | Ms], Routes) ->
    leaf(Pid, MFA, Args, T0, Class, Reason, T1, Routes),
    trace_all(Ms, Routes);
trace_all([M | Ms], Routes) -> trace(M, Routes), trace_all(Ms, Routes);
trace_all([], _) -> ok.

leaf(Pid, MFA, Args, T0, Outcome, Value, T1, Routes) ->
    case Routes of
        #{MFA := Id} ->
            case get(Id) of
                H = #hot{seen = Seen, limit = L, end_ts = E} when Seen < L, T0 =< E ->
                    Depth = case get(Pid) of
                                undefined -> 0;
                                [{_, _, _, _, _, D} | _] -> D + 1
                            end,
                    add_row(Id, H#hot{seen = Seen + 1}, {Pid, MFA, Depth, T0, T1, Outcome, cut(Value, H), cut_args(Args, H)});
                _ -> ok
            end;
        _ -> ok
    end.

trace({trace_ts, Pid, call, MFA, TS}, Routes) -> on_call(Pid, MFA, undefined, TS, Routes);
trace({trace_ts, Pid, call, MFA, Args, TS}, Routes) -> on_call(Pid, MFA, Args, TS, Routes);
trace({trace_ts, Pid, return_from, MFA, Result, TS}, _) -> skip_return_to(Pid), on_return(Pid, MFA, return, Result, TS);
trace({trace_ts, Pid, exception_from, MFA, {Class, Reason}, TS}, _) -> skip_return_to(Pid), on_return(Pid, MFA, Class, Reason, TS);
trace({trace_ts, Pid, return_to, To, TS}, _) -> on_return_to(Pid, To, TS);
trace(_, _) -> ok.

%% While the return_to flag is on, each return_from (or exception_from) is followed by the return_to of the
%% same return: that one is not a return of a probe without results.
skip_return_to(Pid) ->
    case get('$return_to') of
        true -> put({skip, Pid}, true);
        _ -> ok
    end.

%% A return to `To': the innermost traced call of a probe without results has returned, and with it the
%% calls it made to itself in tail position (one return_to ends a chain of tail calls). A frame of a probe
%% with results is left for its return_from. (Limit: in a chain of tail calls between two different probed
%% functions, the outer one ends at the next return_to.)
on_return_to(Pid, To, TS) ->
    case erase({skip, Pid}) of
        true -> ok;
        _ ->
            case get(Pid) of
                [{MFA, Id, _, _, _, _} | _] = Stack ->
                    case get(Id) of
                        #hot{no_result = true} -> end_chain(Pid, MFA, To, TS, Stack);
                        _ -> ok
                    end;
                _ -> ok
            end
    end.

end_chain(Pid, MFA, To, TS, [{MFA, Id, Counted, Args, Start, Depth} | Rest]) ->
    Counted andalso row(Id, {Pid, MFA, Depth, Start, TS, undefined, undefined, cut_args(Args, get(Id))}),
    case Rest of
        [{MFA, _, _, _, _, _} | _] when MFA =/= To -> end_chain(Pid, MFA, To, TS, Rest);
        [] -> erase(Pid);
        _ -> put(Pid, Rest)
    end;
end_chain(_, _, _, _, _) -> ok.

%% A frame: {MFA, Id, Counted, Args, Start, Depth}.
on_call(Pid, MFA, Args, TS, Routes) ->
    case Routes of
        #{MFA := Id} ->
            Stack = case get(Pid) of
                        undefined -> [];
                        St -> St
                    end,
            Depth = case Stack of
                        [] -> 0;
                        [{_, _, _, _, _, D} | _] -> D + 1
                    end,
            %% A call made while armed counts even when its trace message arrives after the probe ended
            %% (the tracer hands messages on in chunks): it is the call's time that decides.
            case get(Id) of
                H = #hot{seen = Seen, limit = L, end_ts = E, open = O} when Seen < L, TS =< E ->
                    put(Id, H#hot{seen = Seen + 1, open = O + 1}),
                    put(Pid, [{MFA, Id, true, Args, TS, Depth} | Stack]);
                _ ->
                    put(Pid, [{MFA, Id, false, undefined, TS, Depth} | Stack])
            end;
        _ -> ok
    end.

on_return(Pid, MFA, Outcome, Value, TS) ->
    case get(Pid) of
        undefined -> ok;
        Stack ->
            case pop(MFA, Stack) of
                {{_, Id, Counted, Args, Start, Depth}, Rest} ->
                    _ = case Rest of
                            [] -> erase(Pid);
                            _ -> put(Pid, Rest)
                        end,
                    case Counted of
                        true -> H = get(Id), row(Id, {Pid, MFA, Depth, Start, TS, Outcome, cut(Value, H), cut_args(Args, H)});
                        false -> ok
                    end;
                none -> ok
            end
    end.

%% The frame for this MFA; frames above it were unwound without a message (should not happen with
%% exception_trace, but a process traced mid-call can return from a call we never saw). A counted call
%% unwound so is no longer open.
pop(MFA, [F | Rest]) when element(1, F) =:= MFA -> {F, Rest};
pop(MFA, Stack) ->
    case lists:keymember(MFA, 1, Stack) of
        true -> unwind(MFA, Stack);
        false -> none
    end.

unwind(MFA, [F | Rest]) when element(1, F) =:= MFA -> {F, Rest};
unwind(MFA, [{_, Id, true, _, _, _} | Rest]) ->
    case get(Id) of
        H = #hot{open = O} -> put(Id, H#hot{open = O - 1});
        undefined -> ok
    end,
    unwind(MFA, Rest);
unwind(MFA, [_ | Rest]) -> unwind(MFA, Rest).

%% A completed call whose call was counted when it came: a row.
row(Id, Row) ->
    case get(Id) of
        undefined -> ok;
        H = #hot{open = O} -> add_row(Id, H#hot{open = O - 1}, Row)
    end.

%% A row, unless the rows waiting for the kernel already fill the buffer budget. A summary probe folds the
%% completed call into its sketches instead (lumin_summary).
add_row(Id, H = #hot{summary = Sum}, Row) when Sum =/= undefined ->
    put(Id, H#hot{summary = lumin_summary:add(Row, Sum)});
add_row(Id, H = #hot{n = N, buffer = B, dropped = D, unsent = U}, _) when N >= B ->
    put(Id, H#hot{dropped = D + 1, unsent = U + 1, full = true});
add_row(Id, H = #hot{n = N, rows = Rows}, Row) ->
    put(Id, H#hot{n = N + 1, rows = [Row | Rows]}).

%% Terms are cut (to the probe's cut size) when the row is made, so what waits on the node is small.
cut(_, #hot{summary = Sum}) when Sum =/= undefined -> undefined;
cut(V, _) when ?SMALL(V) -> V;
cut(V, #hot{cut = Max}) -> lumin_lib:cut(V, Max);
cut(V, _) -> lumin_lib:cut(V, lumin_budget:max_term_bytes()).

cut_args(undefined, _) -> undefined;
cut_args([A] = V, _) when ?SMALL(A) -> V;
cut_args(V, H) -> cut(V, H).

%% After a chunk: probes that reached their count limit (or filled their buffer) stop counting and start
%% draining; a batch goes as soon as enough rows wait; a draining probe whose marker came ends once no
%% counted call is open.
after_chunk(S = #{probes := Ps}) ->
    maps:fold(fun after_chunk/3, S, Ps).

after_chunk(Name, #{state := armed, id := Id, budget := #{limit := L, buffer := B}}, S) ->
    case get(Id) of
        #hot{seen = Seen} when Seen >= L ->
            end_probe(Name, limit, io_lib:format("count budget of ~b calls reached", [L]), S);
        #hot{full = true} ->
            end_probe(Name, buffer, io_lib:format("~b rows waited on the node for the kernel (buffer budget)", [B]), S);
        #hot{n = N} -> flush_if_big(Name, N, S)
    end;
after_chunk(Name, #{state := draining, marked := true}, S) ->
    drained(Name, S);
after_chunk(Name, #{state := draining, id := Id}, S) ->
    #hot{n = N} = get(Id),
    flush_if_big(Name, N, S);
after_chunk(_, _, S) -> S.

flush_if_big(Name, N, S) ->
    case N >= lumin_budget:batch_rows() of
        true -> flush(Name, S, false);
        false -> S
    end.

%% A draining probe whose marker came: it ends when no counted call is still open (else at ?DRAIN_MS).
drained(Name, S = #{probes := Ps}) ->
    #{id := Id} = maps:get(Name, Ps),
    case get(Id) of
        #hot{open = O} when O =< 0 -> finalize(Name, S);
        #hot{n = N} -> flush_if_big(Name, N, S)
    end.

mark_end(P, Why, Detail) -> P#{why := Why, detail := iolist_to_binary(Detail)}.

%% Stop counting and remove this probe's patterns now; rows still arrive for calls under way until drained.
end_probe(Name, Why, Detail, S) ->
    end_probe(Name, Why, Detail, erlang:monotonic_time(nanosecond), S).

%% `EndTs': calls that started before it still count (their messages may still be on their way). The probe
%% ends once everything traced until now has reached the collector: trace_delivered(all) says when it is all
%% in the tracer's mailbox, the tracer then hands on what it holds and a marker (see handle_info/2).
end_probe(Name, Why, Detail, EndTs, S = #{probes := Ps, watchdog := Watchdog}) ->
    case maps:get(Name, Ps) of
        P = #{state := armed, mfas := MFAs, id := Id} ->
            [erlang:trace_pattern(MFA, false, [local]) || MFA <- MFAs],
            [erlang:trace_pattern(MFA, false, [call_count]) || MFA <- MFAs],
            is_pid(Watchdog) andalso lumin_watchdog:ended(Watchdog, Name),
            H = get(Id),
            put(Id, H#hot{end_ts = EndTs}),
            Ref = erlang:trace_delivered(all),
            P1 = (mark_end(P, Why, Detail))#{state := draining, drain_until := erlang:monotonic_time(millisecond) + ?DRAIN_MS,
                                              drain_ref := Ref, marked := false},
            status(P1, S),
            S#{probes := Ps#{Name := P1}};
        _ -> S
    end.

tick(S0 = #{probes := Ps0}) ->
    Now = erlang:monotonic_time(millisecond),
    %% (The tracer's mailbox is watched by lumin_watchdog, its big terms by the tracer itself, and everything
    %% the agent holds by lumin_guard: each ends only the probe that causes the load.)
    S = S0,
    S1 = maps:fold(fun(Name, _, Acc) -> tick_probe(Name, Now, Acc) end, S, Ps0),
    maybe_stop_tracing(S1).

tick_probe(Name, Now, S = #{probes := Ps}) ->
    case maps:get(Name, Ps) of
        P = #{state := armed, id := Id, budget := #{rate := MaxRate, time_ms := MaxT}, armed_at := At, last_tick := Last,
              last_seen := LastSeen} ->
            #hot{seen = Seen} = get(Id),
            Rate = (Seen - LastSeen) * 1000 / max(1, Now - Last),
            P1 = P#{rate := Rate, last_seen := Seen, last_tick := Now},
            S1 = flush(Name, S#{probes := Ps#{Name := P1}}, false),
            if
                Rate > MaxRate ->
                    end_probe(Name, rate, io_lib:format("rate budget of ~b calls/s exceeded (~b/s)", [round(MaxRate), round(Rate)]), S1);
                Now - At >= MaxT ->
                    end_probe(Name, time, io_lib:format("time budget of ~.1f s spent", [MaxT / 1000]), S1);
                true ->
                    status(maps:get(Name, maps:get(probes, S1)), S1),
                    S1
            end;
        #{state := draining, drain_until := Until} when Now >= Until -> finalize(Name, S);
        #{state := draining} -> flush(Name, S, false);
        _ -> S
    end.

%% Send what the probe gathered: its rows, or a summary probe's sketches (ship_summary/5).
flush(Name, S = #{probes := Ps}, Force) ->
    #{id := Id} = maps:get(Name, Ps),
    case get(Id) of
        H = #hot{summary = Sum} when Sum =/= undefined -> ship_summary(Name, Id, H, Force, S);
        _ -> flush_rows(Name, S, Force)
    end.

%% A summary probe's interval's sketches, once the interval is over (and always when the probe ends: `Force'),
%% as one `probe_sketches' event: a few hundred bytes per function, whatever the call rate.
ship_summary(Name, Id, H = #hot{summary = Sum}, Force, S = #{report := Report}) ->
    case Force orelse lumin_summary:due(Sum) of
        true ->
            {Payload, Sum1} = lumin_summary:take(Sum),
            put(Id, H#hot{summary = Sum1}),
            erlang:send_after(lumin_summary:ms_to_next(Sum1), self(), {'$lumin', summary_due, Name}),
            Report ! {lumin_event, probe_sketches, Payload#{name => Name, node => atom_to_binary(node(), utf8)}},
            S;
        false -> S
    end.

%% Send the rows gathered so far, unless too many batches are still unacknowledged (then they wait, up to
%% the buffer budget). `Force' sends regardless: a probe's last batch always goes.
flush_rows(Name, S = #{probes := Ps, report := Report}, Force) ->
    P = #{id := Id, in_flight := F} = maps:get(Name, Ps),
    H = #hot{rows = Rows, n = N, unsent = D} = get(Id),
    case (N > 0 orelse (Force andalso D > 0)) andalso (Force orelse F < lumin_budget:max_batches_in_flight()) of
        true ->
            put(Id, H#hot{rows = [], n = 0, unsent = 0}),
            {Batch, S1} = encode(lists:reverse(Rows), N, D, S),
            Report ! {lumin_event, probe_batch, #{name => Name, node => node(), kind => calls, batch => Batch, from => self()}},
            S1#{probes := Ps#{Name := P#{in_flight := F + 1}}};
        false -> S
    end.

%% Rows ({Pid, MFA, Depth, Start, End, Outcome, Value, Args}, oldest first) as a batch, column by column,
%% each column one binary comprehension over the rows (no garbage per row): pids, MFAs and outcomes index
%% the few distinct values found first; process, module, function, arity, outcome and exception_class are
%% derived from those.
encode(Rows, N, Dropped, S = #{names := Names0, offset_ns := Off}) ->
    {Pids, PidIdx} = dict_by(1, Rows),
    {MFAs, MfaIdx} = dict_by(2, Rows),
    {Outcomes, OIdx} = dict_by(6, Rows),
    {ProcNames, Names} = lists:mapfoldl(fun proc_name/2, Names0, Pids),
    Cols = #{node => {const, node()},
             pid => {dict, Pids, PidIdx},
             process => derive(ProcNames, PidIdx),
             module => derive([M || {M, _, _} <- MFAs], MfaIdx),
             function => derive([F || {_, F, _} <- MFAs], MfaIdx),
             arity => {i32, by_index(list_to_tuple([A || {_, _, A} <- MFAs]), MfaIdx)},
             depth => {i32, << <<D:32/signed-little>> || {_, _, D, _, _, _, _, _} <- Rows >>},
             start_us => {f64, << <<((T0 + Off) / 1000):64/float-little>> || {_, _, _, T0, _, _, _, _} <- Rows >>},
             duration_us => {f64, << <<((T1 - T0) / 1000):64/float-little>> || {_, _, _, T0, T1, _, _, _} <- Rows >>},
             outcome => derive([outcome(O) || O <- Outcomes], OIdx),
             result => terms([case O of return -> V; _ -> undefined end || {_, _, _, _, _, O, V, _} <- Rows]),
             exception_class => derive([class(O) || O <- Outcomes], OIdx),
             exception_reason => terms([case O of return -> undefined; _ -> V end || {_, _, _, _, _, O, V, _} <- Rows]),
             args => lumin_columns:column(cut_args, [{MFA, A} || {_, MFA, _, _, _, _, _, A} <- Rows])},
    {lumin_columns:batch(calls, N, Dropped, Cols), S#{names := Names}}.

%% A dictionary of element `Pos' of the rows: {Values in index order, each row's index as a binary}.
dict_by(Pos, Rows) ->
    Map = distinct(Pos, Rows, make_ref(), #{}),
    Values = [V || {V, _} <- lists:keysort(2, maps:to_list(Map))],
    Idx = case Values of
              [_] -> <<0:(32 * length(Rows))>>;
              _ -> << <<(map_get(element(Pos, R), Map)):32/little>> || R <- Rows >>
          end,
    {Values, Idx}.

distinct(Pos, [R | Rs], Prev, Map) ->
    case element(Pos, R) of
        Prev -> distinct(Pos, Rs, Prev, Map);
        V when is_map_key(V, Map) -> distinct(Pos, Rs, V, Map);
        V -> distinct(Pos, Rs, V, Map#{V => map_size(Map)})
    end;
distinct(_, [], _, Map) -> Map.

%% A dictionary column of a value derived from each of a few distinct keys, given each row's key index.
derive(PerKey, KeyIdx) ->
    {dict, Values, Idx} = lumin_columns:column(dict, PerKey),
    case Idx =:= << <<I:32/little>> || I <- lists:seq(0, length(PerKey) - 1) >> of
        true -> {dict, Values, KeyIdx};
        false -> {dict, Values, by_index(list_to_tuple([I || <<I:32/little>> <= Idx]), KeyIdx)}
    end.

by_index(T, KeyIdx) -> << <<(element(I + 1, T)):32/signed-little>> || <<I:32/little>> <= KeyIdx >>.

%% A terms column; its values were cut when their rows were made.
terms(Values) -> lumin_columns:column(cut_terms, Values).

outcome(return) -> return;
outcome(undefined) -> undefined;
outcome(_) -> exception.

class(return) -> undefined;
class(undefined) -> undefined;
class(C) -> C.

proc_name(Pid, Names) -> lumin_lib:label_of(Pid, Names).

%% The last batch, then `ended'. What the probe counted stays in its summary.
finalize(Name, S) ->
    S1 = #{probes := Ps, routes := Routes, ids := Ids} = flush(Name, S, true),
    P = #{id := Id} = maps:get(Name, Ps),
    {Seen, Dropped0} = counts(P),
    %% Counted calls whose return never came (the process died mid-call, or the drain ran out) are dropped rows.
    Dropped = case get(Id) of
                  #hot{open = O} when O > 0 -> Dropped0 + O;
                  _ -> Dropped0
              end,
    erase(Id),
    P1 = P#{state := ended, seen := Seen, dropped := Dropped},
    status(P1, S1),
    %% What it held (rows, cut terms) is released now, not at some later collection.
    erlang:garbage_collect(),
    maybe_stop_tracing(S1#{probes := Ps#{Name := P1}, routes := maps:filter(fun(_, I) -> I =/= Id end, Routes),
                           ids := maps:remove(Id, Ids)}).

finalize_all(S = #{probes := Ps}) ->
    S1 = maps:fold(fun(N, #{state := draining}, Acc) -> finalize(N, Acc); (_, _, Acc) -> Acc end, S, Ps),
    maybe_stop_tracing(S1).

maybe_stop_tracing(S = #{probes := Ps}) ->
    case [x || #{state := St} <- maps:values(Ps), St =/= ended] of
        [] -> stop_tracing(S);
        _ -> S
    end.

%% {Seen, Dropped}: live in the process dictionary until the probe has ended.
counts(#{state := ended, seen := Seen, dropped := D}) -> {Seen, D};
counts(#{id := Id, seen := Seen0, dropped := D0}) ->
    case get(Id) of
        #hot{seen = Seen, dropped = D} -> {Seen, D};
        undefined -> {Seen0, D0}
    end.

%% ---- reporting ----------------------------------------------------------------------------------------

status(P, #{report := Report}) ->
    Report ! {lumin_event, probe_status, summary(P)}.

summary(P = #{name := Name, target := Target, state := St, rate := R, why := Why, detail := Det}) ->
    {Seen, D} = counts(P),
    #{name => Name, node => atom_to_binary(node(), utf8), kind => calls, target => iolist_to_binary(Target),
      state => case St of draining -> ending; _ -> St end,
      seen => Seen, dropped => D, rate => R, why_ended => Why, detail => Det}.

fmt_mod(M) -> lumin_lib:fmt_mod(M).
fmt_mfa(MFA) -> lumin_lib:fmt_mfa(MFA).

fmt_mod_bin(<<"Elixir.", Rest/binary>>) -> Rest;
fmt_mod_bin(B) -> B.

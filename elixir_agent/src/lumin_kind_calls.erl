%% @doc Call probes (a kind of lumin_probe): a trace pattern on one function, every arity of one, every function
%% of a module, or several functions (spec: module, function (binaries; undefined = every function), arity
%% (undefined = every arity) or `functions' [#{module, function, arity}]; args, no_result, match_spec
%% ([{Head, Guards}]), load), each call paired with its return or exception into one row of the `calls'
%% table: a span with its start, duration, result or exception, and arguments when asked.
%%
%% Calls are the most frequent events a probe sees, so the per-message path is kept small: a trace message
%% costs a lookup of the function, a push or pop on the process's stack of calls under way and an update of a
%% small record, all in the probe process's dictionary (`$hot' and each traced pid); completed calls are row
%% tuples, turned into columns in bulk when a batch goes (held/1, batch/2). Depth is the nesting among this
%% probe's functions.
%%
%%   * Before tracing it refuses a function that anything already traces: another probe (named), or another
%%     tool (:dbg, recon) — it never changes tracing it did not set up, and never clears "all" patterns.
%%   * Without results (`no_result') the VM is not asked for return values (no copy of a big state is made):
%%     durations come from the return_to trace flag, which says when a traced function returned to its
%%     caller. Limit: two probes without results whose functions call each other on one process: the outer
%%     call's duration ends at the inner one's return.
%%   * A function that calls itself in tail position gets a warning before return tracing is armed on it.
%%   * Every way it ends removes exactly the patterns it set; the call flags go when the last call probe ends
%%     (lumin_trace counts them), only on processes whose tracer is ours.
%% On OTP 27+ trace sessions (trace:session_create/3) would give each probe its own tracer; OTP 25 has only the
%% legacy API, which is what this module uses.
-module(lumin_kind_calls).
-behaviour(lumin_probe_kind).

-export([setup/2, columns/0, noun/0, target/1, undo/1, trace/2, info/2, finish/1, release/1, open/1, held/1, batch/2,
         events/2]).
%% The functions a call spec names, resolved on this node (the counts kind, lumin_kind_counts, names them the same way).
-export([mfas/1]).

-define(FLAGS, [call, arity, monotonic_timestamp]).
%% The per-message state, in the process dictionary under '$hot':
%%   seen: calls counted; limit: the count budget; end_ts: calls made after it are not counted (infinity while
%%   armed); open: counted calls whose return has not come yet; rows/n: completed calls not yet sent (newest
%%   first); buffer: the buffer budget; dropped: rows dropped since the probe last took the count; full: the
%%   buffer budget was hit; cut: the cut size of its terms; no_result: its calls end on return_to;
%%   summary: for a probe armed with `summary' (--summary), the lumin_summary it folds completed calls into
%%   instead of making rows, its sketches shipped when each interval ends (ship_summary/2).
-record(hot, {seen = 0, limit, end_ts = infinity, open = 0, rows = [], n = 0, buffer, dropped = 0, full = false,
              cut = 4096, no_result = false, summary = undefined}).
%% A value whose external format is small for sure: kept as it is, without measuring it.
-define(SMALL(V), (is_atom(V) orelse is_float(V) orelse is_pid(V) orelse
                   (is_integer(V) andalso V >= -16#80000000 andalso V =< 16#7fffffff))).

setup(Spec, P0 = #{name := Name, budget := Budget0}) ->
    %% A summary keeps no rows, so its count budget is only the one asked for; and its sampler bounds what it
    %% traces (lumin_sampler), so its rate budget too is only the one asked for: a burst traced until the
    %% sampler cuts it (some ms of a tight loop's calls) must not end an always-on summary. Time, mailbox and
    %% memory budgets still hold.
    Summary = summary_of(Spec),
    Unasked = fun(K) -> not is_number(maps:get(K, Spec, undefined)) end,
    Budget = case Summary of
                 undefined -> Budget0;
                 _ -> maps:merge(Budget0, maps:from_list([{K, 1 bsl 60} || K <- [limit, rate], Unasked(K)]))
             end,
    P = P0#{budget := Budget},
    Cut = lumin_budget:cut_bytes(Spec),
    MFAs = mfas(Spec),
    [refuse_if_traced(MFA) || MFA <- MFAs],
    Summary =/= undefined andalso lumin_sampler:refuse_if_counted(MFAs),
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
    Flags = ?FLAGS ++ [return_to || NoResult],
    P1 = lumin_probe:trace(all, Flags, {calls, Name, MFAs, NoResult, Cut}, P),
    %% All or nothing: if setting a pattern fails, every pattern this arm set goes, and its flags too.
    Set = try [MFA || MFA <- MFAs, erlang:trace_pattern(MFA, MS, [local]) > 0]
          catch C:R ->
                  [erlang:trace_pattern(MFA, false, [local]) || MFA <- MFAs],
                  lumin_trace:release(self()),
                  throw({error, io_lib:format("the VM refused the trace pattern for ~ts (~p:~0P); nothing was left traced",
                                              [lumin_lib:fmt_mfa(hd(MFAs)), C, R, 12])})
          end,
    case Set of
        [] -> lumin_trace:release(self()),
              throw({error, ["the match pattern was not accepted for ", lumin_lib:fmt_mfa(hd(MFAs))]});
        _ -> ok
    end,
    put('$hot', #hot{limit = maps:get(limit, Budget), buffer = maps:get(buffer, Budget), cut = Cut, no_result = NoResult,
                     summary = Summary}),
    %% Set once the probe stops tracing, by itself or by its watchdog: a summary's sampler traces nothing after.
    Stopped = counters:new(1, []),
    Sampler = case Summary of
                  undefined -> undefined;
                  _ ->
                      erlang:send_after(lumin_summary:ms_to_next(Summary), self(), {'$lumin', summary_due}),
                      lumin_sampler:start(Set, MS, sample_rate(Spec), Stopped)
              end,
    %% What lumin_trace removes if this process is killed before it can (its sampler gone first).
    ok = lumin_trace:patterns(self(), [{MFA, local} || MFA <- Set] ++ [{MFA, call_count} || Sampler =/= undefined, MFA <- Set],
                              [lumin_sampler:pid(Sampler) || Sampler =/= undefined]),
    Warnings = [W || not NoResult, MFA <- Set, W <- [tail_warning(MFA)], W =/= none],
    P1#{routes => maps:from_list([{MFA, true} || MFA <- Set]), mfas => Set, warnings := Warnings, sampler => Sampler,
        info => #{mfas => [lumin_lib:fmt_mfa(M) || M <- Set]},
        %% The watchdog counts the probe's calls from what the tracer hands it (two trace messages a call). Not
        %% the VM's call_count of its functions: that counts every process's calls, the agent's own included
        %% (a probe on lists:reverse/1 would count the agent's work on its own rows and end on its rate).
        %% Past a budget the watchdog removes the probe's patterns itself.
        source_count => fun() -> counters:get(maps:get(counter, P1), 1) div 2 end,
        stop_source => fun() -> counters:put(Stopped, 1, 1), unpattern(Set) end}.

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

%% A summary's `sample_rate': calls per second per function that feed its sketch at most.
sample_rate(#{summary := #{sample_rate := R}}) when is_integer(R), R >= 10 -> R;
sample_rate(#{summary := #{sample_rate := R}}) when R =/= nil, R =/= null, R =/= undefined ->
    throw({error, io_lib:format("--sample-rate ~p is not a rate it can keep: give a whole number of calls per second, 10 or more", [R])});
sample_rate(_) -> lumin_sampler:default_rate().

%% A summary probe's interval's sketches, once the interval is over (and always when the probe ends: `Force'),
%% as one `probe_sketches' event: a few hundred bytes per function, whatever the call rate.
ship_summary(P = #{report := Report, name := Name, sampler := Sampler}, Force) ->
    case get('$hot') of
        H = #hot{summary = Sum} when Sum =/= undefined ->
            case Force orelse lumin_summary:due(Sum) of
                true ->
                    {Calls, Sampler1} = lumin_sampler:take_calls(Sampler),
                    {Payload, Sum1} = lumin_summary:take(Sum, Calls),
                    put('$hot', H#hot{summary = Sum1}),
                    Force orelse erlang:send_after(lumin_summary:ms_to_next(Sum1), self(), {'$lumin', summary_due}),
                    Report ! {lumin_event, probe_sketches, Payload#{name => Name, node => atom_to_binary(node(), utf8)}},
                    P#{sampler := Sampler1};
                false -> P
            end;
        _ -> P
    end.

columns() ->
    [{node, {const, node()}}, {pid, dict}, {process, dict}, {module, dict}, {function, dict}, {arity, i32},
     {depth, i32}, {start_us, f64}, {duration_us, f64}, {outcome, dict}, {result, terms}, {exception_class, dict},
     {exception_reason, terms}, {args, terms}].

noun() -> "calls".

target(Spec) ->
    F = case opt(maps:get(function, Spec, undefined)) of
            undefined -> <<>>;
            Fn -> [".", Fn]
        end,
    A = case opt(maps:get(arity, Spec, undefined)) of
            N when is_integer(N) -> ["/", integer_to_list(N)];
            _ -> []
        end,
    lumin_lib:utf8([lumin_target:text(maps:get(module, Spec, <<>>)), F, A]).

%% Stop counting and remove this probe's patterns now; calls already made still come through the tracer
%% until the probe has drained.
undo(P = #{mfas := MFAs}) ->
    %% A summary's sampler first: it traces nothing again, and its counts end here.
    P1 = case P of
             #{sampler := Sampler} when Sampler =/= undefined -> P#{sampler := lumin_sampler:stop(Sampler)};
             _ -> P
         end,
    unpattern(MFAs),
    case get('$hot') of
        H = #hot{} -> put('$hot', H#hot{end_ts = erlang:monotonic_time(nanosecond)});
        _ -> ok
    end,
    P1.

unpattern(MFAs) ->
    [erlang:trace_pattern(MFA, false, [local]) || MFA <- MFAs],
    ok.

%% The tracer untraced MFA already: one term it got was over the memory budget.
info({'$lumin', too_big, MFA, Detail, _Ts}, P = #{routes := Routes}) when is_map_key(MFA, Routes) ->
    lumin_probe:end_probe(memory, Detail, P);
%% A summary's sampler stopped on its own (it never should): without it nothing bounds what the probe traces,
%% so the probe ends, saying why.
info({'EXIT', Pid, Reason}, P = #{state := armed, sampler := S}) when Reason =/= normal, S =/= undefined ->
    case lumin_sampler:pid(S) of
        Pid -> lumin_probe:end_probe(disarmed, io_lib:format("its sampler stopped (~0P): nothing bounded what it traced", [Reason, 12]), P);
        _ -> P
    end;
%% A summary probe's interval ended: its sketches go now, not at the next tick.
info({'$lumin', summary_due}, P = #{state := St}) when St =/= ended ->
    ship_summary(P, false);
info(_, P) -> P.

%% Counted calls whose return never came (the process died mid-call, or the drain ran out) are dropped rows;
%% a summary probe's last sketches go.
finish(P0) ->
    P = case get('$hot') of
            H = #hot{open = O} when O > 0 -> put('$hot', H#hot{open = 0}), lumin_probe:drop(O, P0);
            _ -> P0
        end,
    ship_summary(P, true).

release(P) ->
    [erase(K) || {K, _} <- get(), is_pid(K)],
    erase('$hot'),
    P.

%% A chunk dropped after a flood: one event a call.
events(Msgs, _) -> length([x || M <- Msgs, element(3, M) =:= call]).

open(_) ->
    case get('$hot') of
        #hot{open = O} -> O;
        _ -> 0
    end.

held(_) ->
    case get('$hot') of
        #hot{n = N} -> N;
        _ -> 0
    end.

batch(Dropped, P) ->
    H = #hot{rows = Rows, n = N} = get('$hot'),
    put('$hot', H#hot{rows = [], n = 0}),
    encode(lists:reverse(Rows), N, Dropped, P).

%% ---- a chunk of trace messages -------------------------------------------------------------------------

trace(Msgs, P = #{routes := Routes, seen := Seen0, tick_seen := TS0, budget := #{limit := L, buffer := B}}) ->
    %% The tracer hands a chunk on newest first.
    trace_all(lists:reverse(Msgs), Routes),
    H = #hot{seen = Seen, dropped = D, full = Full, n = N} = get('$hot'),
    put('$hot', H#hot{dropped = 0}),
    P1 = lumin_probe:drop(D, P#{seen := Seen, tick_seen := TS0 + (Seen - Seen0)}),
    P2 = case P1 of
             #{state := armed} when Seen >= L -> lumin_probe:check_limit(P1);
             #{state := armed} when Full ->
                 lumin_probe:end_probe(buffer, io_lib:format("~b rows waited on the node for the kernel (buffer budget)", [B]), P1);
             _ -> P1
         end,
    case N >= lumin_budget:batch_rows() of
        true -> lumin_probe:flush(P2, false);
        false -> P2
    end.

%% A call followed at once by its return (a call that made no traced call; most are) becomes a row without
%% touching the process's stack.
trace_all([{trace_ts, Pid, call, MFA, T0}, {trace_ts, Pid, return_from, MFA, Result, T1}, {trace_ts, Pid, return_to, _, _} | Ms], Routes) ->
    %% (the return_to flag is on while a probe without results is armed: the return_to of this return is skipped)
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
        _ -> message(C, Routes), message(R, Routes)
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
trace_all([M | Ms], Routes) -> message(M, Routes), trace_all(Ms, Routes);
trace_all([], _) -> ok.

leaf(Pid, MFA, Args, T0, Outcome, Value, T1, Routes) when is_map_key(MFA, Routes) ->
    case get('$hot') of
        H = #hot{seen = Seen, limit = L, end_ts = E} when Seen < L, T0 =< E ->
            Depth = case get(Pid) of
                        undefined -> 0;
                        [{_, _, _, _, D} | _] -> D + 1
                    end,
            add_row(H#hot{seen = Seen + 1}, {Pid, MFA, Depth, T0, T1, Outcome, cut(Value, H), cut_args(Args, H)});
        _ -> ok
    end;
leaf(_, _, _, _, _, _, _, _) -> ok.

message({trace_ts, Pid, call, MFA, TS}, Routes) -> on_call(Pid, MFA, undefined, TS, Routes);
message({trace_ts, Pid, call, MFA, Args, TS}, Routes) -> on_call(Pid, MFA, Args, TS, Routes);
message({trace_ts, Pid, return_from, MFA, Result, TS}, _) -> on_return(Pid, MFA, return, Result, TS);
message({trace_ts, Pid, exception_from, MFA, {Class, Reason}, TS}, _) -> on_return(Pid, MFA, Class, Reason, TS);
message({trace_ts, Pid, return_to, To, TS}, _) -> on_return_to(Pid, To, TS);
message(_, _) -> ok.

%% A return to `To': the innermost traced call of a probe without results has returned, and with it the
%% calls it made to itself in tail position (one return_to ends a chain of tail calls). A probe with results
%% waits for return_from instead. (The tracer hands a probe without results only the return_to messages that
%% follow no return_from: those of returns without results.)
on_return_to(Pid, To, TS) ->
    case get('$hot') of
        #hot{no_result = true} ->
            case get(Pid) of
                [{MFA, _, _, _, _} | _] = Stack -> end_chain(Pid, MFA, To, TS, Stack);
                _ -> ok
            end;
        _ -> ok
    end.

end_chain(Pid, MFA, To, TS, [{MFA, Counted, Args, Start, Depth} | Rest]) ->
    Counted andalso row({Pid, MFA, Depth, Start, TS, undefined, undefined, cut_args(Args, get('$hot'))}),
    case Rest of
        [{MFA, _, _, _, _} | _] when MFA =/= To -> end_chain(Pid, MFA, To, TS, Rest);
        [] -> erase(Pid);
        _ -> put(Pid, Rest)
    end;
end_chain(_, _, _, _, _) -> ok.

%% A frame: {MFA, Counted, Args, Start, Depth}.
on_call(Pid, MFA, Args, TS, Routes) when is_map_key(MFA, Routes) ->
    Stack = case get(Pid) of
                undefined -> [];
                St -> St
            end,
    Depth = case Stack of
                [] -> 0;
                [{_, _, _, _, D} | _] -> D + 1
            end,
    %% A call made while armed counts even when its trace message arrives after the probe ended (the tracer
    %% hands messages on in chunks): it is the call's time that decides.
    case get('$hot') of
        H = #hot{seen = Seen, limit = L, end_ts = E, open = O} when Seen < L, TS =< E ->
            put('$hot', H#hot{seen = Seen + 1, open = O + 1}),
            put(Pid, [{MFA, true, Args, TS, Depth} | Stack]);
        _ ->
            put(Pid, [{MFA, false, undefined, TS, Depth} | Stack])
    end;
on_call(_, _, _, _, _) -> ok.

on_return(Pid, MFA, Outcome, Value, TS) ->
    case get(Pid) of
        undefined -> ok;
        Stack ->
            case pop(MFA, Stack) of
                {{_, Counted, Args, Start, Depth}, Rest} ->
                    _ = case Rest of
                            [] -> erase(Pid);
                            _ -> put(Pid, Rest)
                        end,
                    case Counted of
                        true -> H = get('$hot'), row({Pid, MFA, Depth, Start, TS, Outcome, cut(Value, H), cut_args(Args, H)});
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
unwind(MFA, [{_, true, _, _, _} | Rest]) ->
    case get('$hot') of
        H = #hot{open = O} -> put('$hot', H#hot{open = O - 1});
        undefined -> ok
    end,
    unwind(MFA, Rest);
unwind(MFA, [_ | Rest]) -> unwind(MFA, Rest).

%% A completed call whose call was counted when it came: a row.
row(Row) ->
    case get('$hot') of
        undefined -> ok;
        H = #hot{open = O} -> add_row(H#hot{open = O - 1}, Row)
    end.

%% A row, unless the rows waiting for the kernel already fill the buffer budget. A summary probe folds the
%% completed call into its sketches instead (lumin_summary).
add_row(H = #hot{summary = Sum}, Row) when Sum =/= undefined ->
    put('$hot', H#hot{summary = lumin_summary:add(Row, Sum)});
add_row(H = #hot{n = N, buffer = B, dropped = D}, _) when N >= B ->
    put('$hot', H#hot{dropped = D + 1, full = true});
add_row(H = #hot{n = N, rows = Rows}, Row) ->
    put('$hot', H#hot{n = N + 1, rows = [Row | Rows]}).

%% Terms are cut (to the probe's cut size) when the row is made, so what waits on the node is small.
cut(_, #hot{summary = Sum}) when Sum =/= undefined -> undefined;
cut(V, _) when ?SMALL(V) -> V;
cut(V, #hot{cut = Max}) -> lumin_lib:cut(V, Max);
cut(V, _) -> lumin_lib:cut(V, lumin_budget:max_term_bytes()).

cut_args(undefined, _) -> undefined;
cut_args([A] = V, _) when ?SMALL(A) -> V;
cut_args(V, H) -> cut(V, H).

%% ---- resolving what the user wrote -----------------------------------------------------------------------

%% A function anything traces already is refused: by another probe (named), or by another tool.
%% A --summary probe's function stays its own while the sampler has its pattern off.
refuse_if_traced(MFA) ->
    case {erlang:trace_info(MFA, traced), lumin_trace:call_probe_of(MFA)} of
        {{traced, false}, none} -> ok;
        {_, none} -> throw({error, [lumin_lib:fmt_mfa(MFA), " already has a trace pattern set by another tool (:dbg, recon…);"
                                    " ElixirLumin does not change tracing it did not set up. Remove that pattern first."]});
        {_, Other} -> throw({error, [lumin_lib:fmt_mfa(MFA), " is already probed by ", Other, "; disarm it first"]})
    end.

%% @doc The functions a spec names — one function, every arity of one, every function of a module (function
%% undefined), or several (`functions': a list of #{module, function, arity}) — resolved here, or throw
%% {error, Text} saying which is missing.
mfas(Spec) ->
    Targets = case maps:get(functions, Spec, undefined) of
                  L when is_list(L), L =/= [] -> L;
                  _ -> [Spec]
              end,
    lists:usort(lists:append(
      [resolve_functions(resolve_module(maps:get(module, T), maps:get(load, Spec, true)),
                         opt(maps:get(function, T, undefined)), opt(maps:get(arity, T, undefined))) || T <- Targets])).

%% Absent (JavaScript's null arrives as nil).
opt(nil) -> undefined;
opt(null) -> undefined;
opt(V) -> V.

check_match_spec(MS, MFA) ->
    case erlang:match_spec_test([], MS, trace) of
        {ok, _, _, _} -> ok;
        {error, Errors} ->
            throw({error, ["the match pattern for ", lumin_lib:fmt_mfa(MFA), " is not valid on the node: ",
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
        [] -> throw({error, [lumin_lib:fmt_mod(M), " has no functions to probe"]});
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
    throw({error, [lumin_lib:fmt_mod(M), " has no function ", What, Hint]}).


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
        true -> iolist_to_binary([lumin_lib:fmt_mfa(MFA), " calls itself in tail position: return tracing keeps a stack frame "
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

%% ---- batches -------------------------------------------------------------------------------------------

%% Rows ({Pid, MFA, Depth, Start, End, Outcome, Value, Args}, oldest first) as a batch, column by column,
%% each column one binary comprehension over the rows (no garbage per row): pids, MFAs and outcomes index
%% the few distinct values found first; process, module, function, arity, outcome and exception_class are
%% derived from those.
encode(Rows, N, Dropped, P) ->
    Learned = lumin_redact:learned(),
    R = encode_rows(Rows, N, Dropped, P),
    case lumin_redact:learned() of
        Learned -> R;
        %% A secret was found in this batch (an argument named `password'): encode it again, so the same value
        %% is redacted in the other rows and columns of the batch too (a result returning it).
        _ -> encode_rows(Rows, N, Dropped, P)
    end.

encode_rows(Rows, N, Dropped, P = #{names := Names0, offset_ns := Off}) ->
    {Pids, PidIdx} = lumin_columns:dict_by(1, Rows),
    {MFAs, MfaIdx} = lumin_columns:dict_by(2, Rows),
    {Outcomes, OIdx} = lumin_columns:dict_by(6, Rows),
    {ProcNames, Names} = lists:mapfoldl(fun proc_name/2, Names0, Pids),
    Cols = #{node => {const, node()},
             pid => {dict, Pids, PidIdx},
             process => lumin_columns:derive(ProcNames, PidIdx),
             module => lumin_columns:derive([M || {M, _, _} <- MFAs], MfaIdx),
             function => lumin_columns:derive([F || {_, F, _} <- MFAs], MfaIdx),
             arity => {i32, lumin_columns:by_index(list_to_tuple([A || {_, _, A} <- MFAs]), MfaIdx)},
             depth => {i32, << <<D:32/signed-little>> || {_, _, D, _, _, _, _, _} <- Rows >>},
             start_us => {f64, << <<((T0 + Off) / 1000):64/float-little>> || {_, _, _, T0, _, _, _, _} <- Rows >>},
             duration_us => {f64, << <<((T1 - T0) / 1000):64/float-little>> || {_, _, _, T0, T1, _, _, _} <- Rows >>},
             outcome => lumin_columns:derive([outcome(O) || O <- Outcomes], OIdx),
             %% (a column no row has a value for — results of a probe without them, exceptions when none was
             %% raised, arguments without --args — is nulls, told by the few outcomes, not by each row)
             result => case lists:member(return, Outcomes) of
                           true -> terms([case O of return -> V; _ -> undefined end || {_, _, _, _, _, O, V, _} <- Rows]);
                           false -> lumin_columns:nulls(N)
                       end,
             exception_class => lumin_columns:derive([class(O) || O <- Outcomes], OIdx),
             exception_reason => case Outcomes -- [return, undefined] of
                                     [] -> lumin_columns:nulls(N);
                                     _ -> terms([case O of return -> undefined; _ -> V end || {_, _, _, _, _, O, V, _} <- Rows])
                                 end,
             args => case has_args(Rows) of
                         true -> lumin_columns:column(cut_args, [{MFA, A} || {_, MFA, _, _, _, _, _, A} <- Rows]);
                         false -> lumin_columns:nulls(N)
                     end},
    {lumin_columns:batch(calls, N, Dropped, Cols), P#{names := Names}}.

has_args([{_, _, _, _, _, _, _, undefined} | Rows]) -> has_args(Rows);
has_args([_ | _]) -> true;
has_args([]) -> false.

%% A terms column; its values were cut when their rows were made.
terms(Values) -> lumin_columns:column(cut_terms, Values).

outcome(return) -> return;
outcome(undefined) -> undefined;
outcome(_) -> exception.

class(return) -> undefined;
class(undefined) -> undefined;
class(C) -> C.

proc_name(Pid, Names) -> lumin_lib:label_of(Pid, Names).


fmt_mod_bin(<<"Elixir.", Rest/binary>>) -> Rest;
fmt_mod_bin(B) -> B.

%% @doc The tracer: the one process every trace message of the agent is sent to (lumin_trace owns it and the
%% flags). It does the least possible work — receive, cut big terms, route, hand on in chunks — because the
%% BEAM gives a tracer no backpressure. Call messages (call, return_from, exception_from, return_to) go to the
%% call probes, a chunk whole when one call probe is armed, else split by function once per chunk (off the
%% per-message path); send/receive and process events go to the probes that asked for them, by the process
%% they concern or for every process (routes set with route/4). Its mailbox and memory are watched from outside
%% (a tick message of its own would wait behind a flood).
%%
%% It cuts big terms where they arrive: a traced result, argument list or message larger than the cut size
%% becomes a `{lumin_cut, Bytes, Prefix}' marker before it is kept (lumin_lib:cut/2 costs O(cut size), not
%% O(term size)), and the copy the VM made of it is released at once with a garbage collection. A 40 MB
%% state returned by a traced function therefore lives in the agent for one message, never in a chunk.
-module(lumin_tracer).
-export([start/2, stop/1, route/4, unroute/2, init/2]).

-define(CHUNK, 2000).
%% What it holds is handed on once no trace message came for this long (ms), so the end of a burst does not
%% wait for the next tick; a steady flow is handed on in chunks of ?CHUNK, or on ticks.
-define(IDLE_MS, 2).

%% @doc A tracer for `Owner' (it stops when Owner goes).
-spec start(pid(), counters:counters_ref()) -> pid().
start(Owner, _Counter) ->
    proc_lib:spawn(?MODULE, init, [Owner, undefined]).

%% @doc Hand on everything, tell every route `tracer_stopped', and stop.
stop(Tracer) -> Tracer ! {'$lumin', stop}, ok.

%% @doc Send `Holder' the messages of `Route' ({calls, Name, MFAs, NoResult, Cut} | {pids, Tags, Pids} |
%% {all, Tags}); `Counter' (index 1) counts what it is handed, for its watchdog. Call terms are cut to the
%% largest cut size of the call probes it serves.
route(Tracer, Holder, Route, Counter) -> Tracer ! {'$lumin', route, Holder, Route, Counter}, ok.

%% @doc Stop routing to `Holder': what it held for it is handed on, then `{'$lumin', tracer_stopped, Tracer}'.
unroute(Tracer, Holder) when is_pid(Tracer) -> Tracer ! {'$lumin', unroute, Holder}, ok;
unroute(_, _) -> ok.

init(Owner, _) ->
    erlang:monitor(process, Owner),
    %% Normal priority: a tracer at high priority draining a flood would starve the node's own work (its RPCs,
    %% its schedulers' other processes); its backlog is bounded by the budgets instead (mailbox, node memory).
    process_flag(priority, normal),
    %% A flood waits in the mailbox; off the heap, it is not copied by each garbage collection.
    process_flag(message_queue_data, off_heap),
    %% Room for a chunk: fewer collections while it fills.
    process_flag(min_heap_size, 50000),
    erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
    put('$lumin_cut', lumin_budget:max_term_bytes()),
    put('$routes', #{}),
    put('$counters', #{}),
    put('$holders', []),
    loop(undefined, [], [], 0).

%% CC: the call probes — undefined (none), {one, Holder, Counter}, or `many' (their routes in '$calls'); Acc:
%% call messages held (newest first); Other: the other routes' messages held (newest first); N: both counted.
loop(CC, Acc, Other, N) ->
    receive
        {'$lumin', tick} ->
            hand_on(CC, Acc, Other),
            erlang:send_after(lumin_budget:tick_ms() div 2, self(), {'$lumin', tick}),
            loop(CC, [], [], 0);
        {'$lumin', stop} ->
            hand_on(CC, Acc, Other),
            [H ! {'$lumin', tracer_stopped, self()} || H <- lists:usort(get('$holders'))];
        {'$lumin', route, H, {calls, _Name, MFAs, NoResult, Cut}, C} ->
            %% What is held was taken for the call probes armed before this one.
            hand_on(CC, Acc, Other),
            put('$holders', [H | get('$holders')]),
            put('$calls', (get_map('$calls'))#{H => {C, MFAs, NoResult, Cut}}),
            loop(calls_changed(), [], [], 0);
        {'$lumin', route, H, Route, C} ->
            %% What is held was taken for the routes before this one.
            hand_on(CC, Acc, Other),
            add_route(H, Route, C),
            loop(CC, [], [], 0);
        {'$lumin', unroute, H} ->
            hand_on(CC, Acc, Other),
            CC1 = case get_map('$calls') of
                      #{H := _} = Calls -> put('$calls', maps:remove(H, Calls)), calls_changed();
                      _ -> del_route(H), CC
                  end,
            put('$holders', lists:delete(H, get('$holders'))),
            H ! {'$lumin', tracer_stopped, self()},
            loop(CC1, [], [], 0);
        {'DOWN', _, process, _, _} ->
            ok;
        Msg0 ->
            Msg = small(Msg0),
            case element(3, Msg) of
                T when T =:= call; T =:= return_from; T =:= exception_from; T =:= return_to ->
                    held(CC, [Msg | Acc], Other, N);
                %% Sorted out by route when handed on (hand_on/3).
                _ ->
                    held(CC, Acc, [Msg | Other], N)
            end
    after idle(N) ->
        hand_on(CC, Acc, Other),
        loop(CC, [], [], 0)
    end.

%% A message more is held: a chunk's worth is handed on.
held(CC, Acc, Other, N) when N >= ?CHUNK ->
    hand_on(CC, Acc, Other),
    loop(CC, [], [], 0);
held(CC, Acc, Other, N) -> loop(CC, Acc, Other, N + 1).

%% The call probes changed: how call messages are handed on from now on, and the cut size of their terms
%% (the largest any of them asked for; lumin_budget:max_term_bytes/0 when none is armed).
calls_changed() ->
    Calls = get_map('$calls'),
    put('$lumin_cut', case [Cut || {_, _, _, Cut} <- maps:values(Calls)] of
                          [] -> lumin_budget:max_term_bytes();
                          Cuts -> lists:max(Cuts)
                      end),
    put('$after_return', #{}),
    case maps:to_list(Calls) of
        [] -> undefined;
        [{H, {C, _, _, _}}] -> {one, H, C};
        Several ->
            %% A function probed twice (a probe still draining, and a new one) goes to the newer probe.
            put('$by_mfa', maps:from_list([{MFA, {H, C}} || {H, {C, MFAs, _, _}} <- lists:keysort(1, Several), MFA <- MFAs])),
            put('$no_result', [{H, C} || {H, {C, _, true, _}} <- Several]),
            many
    end.

idle(0) -> infinity;
idle(_) -> ?IDLE_MS.

%% ---- routes of the other kinds -------------------------------------------------------------------------
%% '$routes': Tag => {#{Pid => [Holder]}, [Holder]} (by the process the message is about, or for every process);
%% '$counters': Holder => counters ref. What is held for a holder is under the holder's pid in the process
%% dictionary: {Messages (newest first), Count}.

add_route(H, Route, C) ->
    put('$holders', [H | get('$holders')]),
    put('$counters', maps:put(H, C, get_map('$counters'))),
    {Tags, Pids} = case Route of
                       {pids, T, Ps} -> {T, Ps};
                       {all, T} -> {T, all}
                   end,
    put('$routes', lists:foldl(fun(Tag, R) ->
                                       {PM, All} = maps:get(Tag, R, {#{}, []}),
                                       R#{Tag => case Pids of
                                                     all -> {PM, [H | All]};
                                                     _ -> {lists:foldl(fun(P, M) -> maps:update_with(P, fun(L) -> [H | L] end, [H], M) end, PM, Pids), All}
                                                 end}
                               end, get_map('$routes'), Tags)).

get_map(K) ->
    case get(K) of
        undefined -> #{};
        M -> M
    end.

del_route(H) ->
    Keep = fun(L) -> [X || X <- L, X =/= H] end,
    put('$routes', maps:map(fun(_, {PM, All}) ->
                                    {maps:filter(fun(_, L) -> L =/= [] end, maps:map(fun(_, L) -> Keep(L) end, PM)), Keep(All)}
                            end, get_map('$routes'))),
    put('$counters', maps:remove(H, get_map('$counters'))),
    ok.

%% The other kinds' messages held since the last hand-on, each to the holders whose route takes it, in one pass
%% per chunk (off the per-message path). When one holder takes every tag for every process, the chunk goes
%% whole.
route_other([]) -> ok;
route_other(Msgs) ->
    Routes = get('$routes'),
    case single(Routes) of
        {ok, H} -> send_chunk(H, Msgs);
        none ->
            ByHolder = lists:foldl(fun(Msg, Acc) ->
                                           case Routes of
                                               #{element(3, Msg) := {PM, All}} ->
                                                   Hs = case PM of
                                                            #{element(2, Msg) := L} -> L ++ All;
                                                            _ -> All
                                                        end,
                                                   lists:foldl(fun(H, A) -> maps:update_with(H, fun(L1) -> [Msg | L1] end, [Msg], A) end, Acc, Hs);
                                               _ -> Acc
                                           end
                                   end, #{}, lists:reverse(Msgs)),
            %% (folded oldest first, so each holder's list is newest first, as chunks go)
            maps:foreach(fun(H, L) -> send_chunk(H, L) end, ByHolder)
    end.

%% The one holder every route goes to, for every process it watches (a single probe of another kind), or none.
%% (Only the processes and tags a holder asked for are traced for it, so its chunk needs no sorting.)
single(Routes) ->
    Holders = lists:usort(lists:append([All ++ lists:append(maps:values(PM)) || {PM, All} <- maps:values(Routes)])),
    case Holders of
        [H] -> {ok, H};
        _ -> none
    end.

send_chunk(H, Msgs) ->
    case get_map('$counters') of
        #{H := Counter} -> counters:add(Counter, 1, length(Msgs));
        _ -> ok
    end,
    H ! {'$lumin', chunk, Msgs}.

hand_on(CC, Acc, Other) ->
    case {CC, Acc} of
        {{one, H, Counter}, [_ | _]} ->
            counters:add(Counter, 1, length(Acc)),
            H ! {'$lumin', chunk, Acc};
        {many, [_ | _]} -> split_calls(Acc);
        _ -> ok
    end,
    route_other(Other),
    ok.

%% Several call probes: each call message to the probe of its function. A return_to says only where a return
%% went, not from which function: one right after a return_from (or exception_from) of the same process belongs
%% to that return, whose probe has results and needs none; any other goes to the probes without results.
split_calls(Acc) ->
    ByMFA = get('$by_mfa'),
    NoResult = get('$no_result'),
    After0 = case get('$after_return') of
                 M when map_size(M) < 100000 -> M;
                 _ -> #{}
             end,
    {ByHolder, After} = lists:foldl(fun(Msg, {Out, After1}) -> split(Msg, ByMFA, NoResult, Out, After1) end,
                                    {#{}, After0}, lists:reverse(Acc)),
    put('$after_return', After),
    %% (folded oldest first, so each probe's list is newest first, as chunks go)
    maps:foreach(fun({H, Counter}, L) -> counters:add(Counter, 1, length(L)), H ! {'$lumin', chunk, L} end, ByHolder).

split(Msg, ByMFA, NoResult, Out, After) ->
    Pid = element(2, Msg),
    case element(3, Msg) of
        return_to when is_map_key(Pid, After) -> {Out, maps:remove(Pid, After)};
        return_to -> {lists:foldl(fun(HC, O) -> give(HC, Msg, O) end, Out, NoResult), After};
        Tag ->
            After1 = case Tag of
                         call -> maps:remove(Pid, After);
                         _ when NoResult =:= [] -> After;
                         _ -> After#{Pid => true}
                     end,
            case ByMFA of
                #{element(4, Msg) := HC} -> {give(HC, Msg, Out), After1};
                _ -> {Out, After1}
            end
    end.

give(HC, Msg, Out) -> maps:update_with(HC, fun(L) -> [Msg | L] end, [Msg], Out).

%% ---- cutting --------------------------------------------------------------------------------------------

%% A value whose size is small for sure: kept without looking at it.
-define(SMALL(V), (is_atom(V) orelse is_integer(V) orelse is_float(V) orelse is_pid(V) orelse V =:= [])).
%% One that takes a few words for sure (an integer of one word, not any integer).
-define(IMMEDIATE(V), (is_atom(V) orelse (is_integer(V) andalso V > -16#7ffffffffffffff andalso V < 16#7ffffffffffffff)
                       orelse is_float(V) orelse is_pid(V) orelse is_port(V) orelse is_reference(V) orelse V =:= [])).

%% The trace message with its big term cut (results, exceptions, arguments, messages); when one was cut, the
%% VM's copy of it is garbage now, collected at once.
%% First, without a call: a message that is an immediate or a pair of immediates ({tag, N}, {Ref, ok}), as
%% most are under a flood; lumin_lib:fits/2 would keep it too, at a few calls a message more.
small({trace_ts, _, 'receive', V, _} = M) when ?IMMEDIATE(V) -> M;
small({trace_ts, _, 'receive', {A, B}, _} = M) when ?IMMEDIATE(A), ?IMMEDIATE(B) -> M;
small({trace_ts, _, send, V, _, _} = M) when ?IMMEDIATE(V) -> M;
small({trace_ts, _, send, {A, B}, _, _} = M) when ?IMMEDIATE(A), ?IMMEDIATE(B) -> M;
%% ... or a gen_server's cast of one: {'$gen_cast', {tag, N}}.
small({trace_ts, _, 'receive', {A, {B, C}}, _} = M) when ?IMMEDIATE(A), ?IMMEDIATE(B), ?IMMEDIATE(C) -> M;
small({trace_ts, _, send, {A, {B, C}}, _, _} = M) when ?IMMEDIATE(A), ?IMMEDIATE(B), ?IMMEDIATE(C) -> M;
small({trace_ts, _, Tag, _, V, _} = M) when Tag =:= return_from; Tag =:= exception_from; Tag =:= call ->
    shrink(M, 5, V);
small({trace_ts, _, send, V, _, _} = M) -> shrink_msg(M, V);
small({trace_ts, _, send_to_non_existing_process, V, _, _} = M) -> shrink_msg(M, V);
small({trace_ts, _, 'receive', V, _} = M) -> shrink_msg(M, V);
small(M) -> M.

%% A message keeps its outer tuple (up to 4 elements), each element cut on its own: a reply's tag, a call's
%% `$gen_call' and from, a system message's requester stay readable, so protocols are still recognised.
shrink_msg(M, V) when is_tuple(V), tuple_size(V) >= 2, tuple_size(V) =< 4 ->
    Max = get('$lumin_cut'),
    case lumin_lib:fits(V, Max) of
        true -> M;
        false ->
            Each = max(64, Max div tuple_size(V)),
            V1 = list_to_tuple([case lumin_lib:fits(E, Each) of
                                    true -> E;
                                    false -> lumin_lib:cut(E, Each)
                                end || E <- tuple_to_list(V)]),
            erlang:garbage_collect(),
            setelement(4, M, V1)
    end;
shrink_msg(M, V) -> shrink(M, 4, V).

shrink(M, _, V) when ?SMALL(V) -> M;
shrink(M, I, V) ->
    Max = get('$lumin_cut'),
    case lumin_lib:fits(V, Max) of
        true -> M;
        false ->
            too_big(M, V),
            M1 = setelement(I, M, lumin_lib:cut(V, Max)),
            erlang:garbage_collect(),
            M1
    end.

%% A term over 64 KB is measured whole (in C, without garbage: ~2 ms a MB); past
%% lumin_budget:traced_term_max/0, the function that produced it is untraced now, before its next call copies
%% another one, and the probes are told. (The VM copied the term whole before the tracer could cut it; only
%% the next copies can be prevented.)
too_big(M, V) ->
    Budget = lumin_budget:traced_term_max(),
    Tag = element(3, M),
    case (Tag =:= return_from orelse Tag =:= exception_from orelse Tag =:= call)
         andalso not lumin_lib:fits(V, 65536) andalso erts_debug:flat_size(V) * 8 of
        Bytes when is_integer(Bytes), Bytes > Budget ->
            MFA = element(4, M),
            erlang:trace_pattern(MFA, false, [local]),
            Detail = io_lib:format("one traced result or argument list of ~ts took ~b MB on the node (at most ~b MB); "
                                   "the VM copies it whole for each call: probe it with --no-result, or a function that returns less",
                                   [lumin_lib:fmt_mfa(MFA), Bytes div 1048576, Budget div 1048576]),
            [C ! {'$lumin', too_big, MFA, iolist_to_binary(Detail), erlang:monotonic_time(nanosecond)}
             || C <- get('$holders')];
        _ -> ok
    end.

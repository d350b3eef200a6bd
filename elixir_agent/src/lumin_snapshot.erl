%% @doc Immediate looks at a node, no probe armed: top processes, a supervision tree, applications, ETS
%% tables, and one process's state or info. Tables come back as columnar batches (kernel/tables/schemas.ts).
%%
%% `top' follows recon's proc_window: two samples, so reductions are a rate; it walks processes one at a
%% time and keeps only the best N, never the info of all processes at once.
-module(lumin_snapshot).
-export([take/2, process/2]).

%% The agent's own processes are in %top, marked (`agent'), except the process taking this snapshot: its
%% walk over every process would top the list.

-spec take(atom(), map()) -> {ok, binary()} | {error, binary()}.
take(Kind, Options) ->
    try snapshot(Kind, Options)
    catch throw:{error, Msg} -> {error, iolist_to_binary(Msg)}
    end.

snapshot(top, Opts) ->
    N = maps:get(n, Opts, 10),
    By = maps:get(by, Opts, reductions),
    Window = maps:get(window_ms, Opts, 500),
    First = reductions_by_pid(),
    timer:sleep(Window),
    Scored = lists:foldl(fun(P, Best) -> consider(P, First, By, Window, N, Best) end, [], erlang:processes()),
    Rows = [[node(), P, Name, Init, Cur, Mem, RedRate, Q, Heap, Agent]
            || {_, P, #{name := Name, initial := Init, current := Cur, memory := Mem, rate := RedRate,
                        queue := Q, heap := Heap, agent := Agent}} <- [named(E) || E <- lists:reverse(lists:keysort(1, Scored))]],
    batch(top, [{node, {const, node()}}, {pid, dict}, {name, dict}, {initial_call, dict}, {current_function, dict},
                {memory, f64}, {reductions_per_s, f64}, {message_queue_len, i32}, {heap_size, f64}, {agent, dict}], Rows);
snapshot(apps, _Opts) ->
    Running = [A || {A, _, _} <- application:which_applications()],
    Rows = [[node(), A, unicode:characters_to_binary(D), unicode:characters_to_binary(V), lists:member(A, Running)]
            || {A, D, V} <- lists:sort(application:loaded_applications())],
    batch(apps, [{node, {const, node()}}, {application, dict}, {description, dict}, {version, dict}, {running, dict}], Rows);
snapshot(ets, Opts) ->
    N = maps:get(n, Opts, 20),
    Word = erlang:system_info(wordsize),
    Info = [{ets:info(T, memory) * Word, T} || T <- ets:all()],
    Top = lists:sublist(lists:reverse(lists:sort([I || I = {M, _} <- Info, is_integer(M)])), N),
    Rows = [[node(), table_name(T), ets:info(T, type), ets:info(T, size), Mem, Owner, reg_name(Owner), ets:info(T, protection)]
            || {Mem, T} <- Top, Owner <- [ets:info(T, owner)], Owner =/= undefined],
    batch(ets, [{node, {const, node()}}, {table, dict}, {type, dict}, {size, f64}, {memory_bytes, f64}, {owner, dict},
                {owner_name, dict}, {protection, dict}], Rows);
snapshot(tree, Opts) ->
    Roots = tree_roots(maps:get(app, Opts, undefined)),
    Rows = lists:append([walk(Sup, App, undefined, 0) || {App, Sup} <- Roots]),
    batch(tree, [{node, {const, node()}}, {application, dict}, {supervisor, dict}, {supervisor_pid, dict}, {child_id, dict},
                 {pid, dict}, {name, dict}, {type, dict}, {restart, dict}, {strategy, dict}, {depth, i32}], Rows);
snapshot(Kind, _) ->
    throw({error, io_lib:format("no snapshot of kind ~p", [Kind])}).

batch(Kind, Columns, Rows) ->
    B = lists:foldl(fun lumin_columns:add/2, lumin_columns:new(Columns), Rows),
    {ok, lumin_columns:encode(Kind, 0, B)}.

%% ---- top ----------------------------------------------------------------------------------------------

reductions_by_pid() ->
    lists:foldl(fun(P, M) ->
                        case erlang:process_info(P, reductions) of
                            {reductions, R} -> M#{P => R};
                            undefined -> M
                        end
                end, #{}, erlang:processes()).

%% Only the figures are read of every process; names and initial calls (which may need its dictionary) only of
%% the N kept.
consider(P, _First, _By, _Window, _N, Best) when P =:= self() -> Best;
consider(P, First, By, Window, N, Best) ->
    case erlang:process_info(P, [reductions, memory, message_queue_len, total_heap_size, registered_name,
                                 current_function]) of
        undefined -> Best;
        [{reductions, R}, {memory, Mem}, {message_queue_len, Q}, {total_heap_size, Heap}, {registered_name, Reg},
         {current_function, Cur}] ->
            Rate = (R - maps:get(P, First, R)) * 1000 / Window,
            Score = case By of memory -> Mem; mailbox -> Q; heap -> Heap; _ -> Rate end,
            Entry = {Score, P, #{reg => Reg, current => fmt_mfa(Cur), memory => Mem, rate => Rate, queue => Q, heap => Heap}},
            keep_best(Entry, Best, N)
    end.

%% A kept entry's name (any label OTP offers), initial call (through proc_lib) and whether it is the agent's.
named({Score, P, Info = #{reg := Reg}}) ->
    Init = lumin_lib:initial_call(P),
    Name = case Reg of
               [] -> lumin_lib:label(P);
               _ -> Reg
           end,
    Agent = case Init of
                {M, _, _} -> M =/= lumin_eval andalso lists:member(M, lumin_lib:agent_modules());
                _ -> false
            end,
    {Score, P, Info#{name => Name, initial => case Init of undefined -> undefined; _ -> fmt_mfa(Init) end, agent => Agent}}.

%% Keep the N best entries; the list stays short, so the insert is cheap.
keep_best(Entry, Best, N) when length(Best) < N -> [Entry | Best];
keep_best(Entry = {Score, _, _}, Best, _N) ->
    [{Low, _, _} = Lowest | _] = Sorted = lists:keysort(1, Best),
    case Score > Low of
        true -> [Entry | lists:delete(Lowest, Sorted)];
        false -> Best
    end.

%% ---- tree ---------------------------------------------------------------------------------------------

tree_roots(undefined) ->
    [{App, Sup} || {App, _, _} <- application:which_applications(), Sup <- [app_supervisor(App)], Sup =/= undefined];
%% An application's tree, or the tree under a registered supervisor (Shop.Supervisor, :my_sup).
tree_roots(AppBin) when is_binary(AppBin) ->
    Atoms = [A || C <- [AppBin, <<"Elixir.", AppBin/binary>>], A <- [catch binary_to_existing_atom(C, utf8)], is_atom(A)],
    Apps = [{A, Sup} || A <- Atoms, Sup <- [app_supervisor(A)], Sup =/= undefined],
    Sups = [{undefined, P} || A <- Atoms, P <- [whereis(A)], is_pid(P)],
    case Apps ++ Sups of
        [Root | _] -> [Root];
        [] -> throw({error, ["no application named ", AppBin, " runs on ", atom_to_list(node()),
                             ", and no supervisor is registered under that name"]})
    end.

app_supervisor(App) ->
    case application_controller:get_master(App) of
        Master when is_pid(Master) ->
            case catch application_master:get_child(Master) of
                {Pid, _} when is_pid(Pid) -> Pid;
                _ -> undefined
            end;
        _ -> undefined
    end.

%% Each supervisor's state is read once, with a sys request (which every supervisor answers): its strategy and
%% its children's restart types come from it. supervisor:get_childspec/2 is never used: Elixir's
%% DynamicSupervisor does not implement it and crashes on the request.
walk(Sup, App, Parent, Depth) ->
    walk(Sup, sup_state(Sup), App, Parent, Depth).

walk(Sup, State, App, Parent, Depth) ->
    Self = [node(), App, Parent, pid_or(Parent), <<"(root)">>, Sup, reg_name(Sup), supervisor, undefined,
            strategy(State), Depth],
    Rows = case Parent of undefined -> [Self]; _ -> [] end,
    %% which_children lists a static supervisor's children newest first: shown here in start order.
    Children = case catch supervisor:which_children(Sup) of
                   L when is_list(L) -> lists:reverse(L);
                   _ -> []
               end,
    Rows ++ lists:append([child_rows(Sup, State, App, C, Depth + 1) || C <- Children]).

child_rows(Sup, SupState, App, {Id, Pid, Type, _Mods}, Depth) ->
    SupName = sup_label(Sup),
    PidText = case Pid of P when is_pid(P) -> P; Other -> Other end,
    ChildState = case Type of supervisor when is_pid(Pid) -> sup_state(Pid); _ -> undefined end,
    Row = [node(), App, SupName, Sup, fmt_id(Id), PidText, reg_name(Pid), Type, restart(SupState, Id, Pid),
           strategy(ChildState), Depth],
    case Type of
        supervisor when is_pid(Pid) -> [Row | walk(Pid, ChildState, App, SupName, Depth)];
        _ -> [Row]
    end.

pid_or(undefined) -> undefined;
pid_or(P) -> P.

sup_label(Sup) ->
    case reg_name(Sup) of
        undefined -> Sup;
        N -> N
    end.

sup_state(Sup) ->
    case catch sys:get_state(Sup, 2000) of
        {'EXIT', _} -> undefined;
        St -> St
    end.

%% OTP's supervisor keeps #state{name, strategy, children = {Ids, #{Id => #child{}}}, ...}; Elixir's
%% DynamicSupervisor a struct with `strategy' and `children' (#{Pid => {MFA, Restart, ...}}).
strategy(S) when is_tuple(S), element(1, S) =:= state, tuple_size(S) > 2 -> element(3, S);
strategy(#{strategy := St}) when is_atom(St) -> St;
strategy(_) -> undefined.

%% #child{pid, id, mfargs, restart_type, ...}: the restart type is its 5th element (OTP 21 to 26).
restart(S, Id, _Pid) when is_tuple(S), element(1, S) =:= state, tuple_size(S) > 3 ->
    case element(4, S) of
        {_, Db} when is_map(Db) ->
            case {Db, element(3, S), maps:values(Db)} of
                {#{Id := C}, _, _} when is_tuple(C), element(1, C) =:= child -> element(5, C);
                %% simple_one_for_one: one spec for every child.
                {_, simple_one_for_one, [C]} when is_tuple(C), element(1, C) =:= child -> element(5, C);
                _ -> undefined
            end;
        _ -> undefined
    end;
restart(#{children := Children}, _Id, Pid) when is_map(Children) ->
    case Children of
        #{Pid := Spec} when is_tuple(Spec), tuple_size(Spec) >= 2 -> element(2, Spec);
        _ -> undefined
    end;
restart(_, _, _) -> undefined.

fmt_id(undefined) -> <<"undefined">>;  % a dynamic child's id
fmt_id(Id) when is_atom(Id) -> Id;
fmt_id(Id) when is_binary(Id) -> Id;
fmt_id(Id) -> iolist_to_binary(io_lib:format("~0p", [Id])).

%% ---- one process --------------------------------------------------------------------------------------

%% @doc `Target' is a pid (as text, "<0.1.0>") or a registered name (binary, resolved without creating an atom).
-spec process(binary(), state | info) -> {ok, term()} | {error, binary()}.
process(Target, What) ->
    try
        Pid = resolve_process(Target),
        case What of
            state ->
                case catch sys:get_state(Pid, 5000) of
                    {'EXIT', _} -> throw({error, [Target, " did not answer a :sys.get_state request within 5 s; only gen_server, "
                                                  "gen_statem and other :sys-compliant processes keep a state to show"]});
                    State ->
                        %% The records its callback module defines: their secret fields are redacted (lumin_redact).
                        case lumin_lib:initial_call(Pid) of
                            {M, _, _} -> lumin_redact:learn_module(M);
                            _ -> ok
                        end,
                        {ok, lumin_columns:cut_term(State)}
                end;
            info ->
                Keys = [registered_name, current_function, initial_call, status, message_queue_len, links, monitors,
                        monitored_by, trap_exit, priority, reductions, memory, total_heap_size, heap_size, stack_size,
                        current_stacktrace, dictionary, group_leader],
                case erlang:process_info(Pid, Keys) of
                    undefined -> throw({error, [Target, " is not alive"]});
                    Info -> {ok, lumin_columns:cut_term(maps:from_list(Info))}
                end
        end
    catch throw:{error, Msg} -> {error, iolist_to_binary(Msg)}
    end.

resolve_process(<<"<", _/binary>> = Text) ->
    case catch list_to_pid(binary_to_list(Text)) of
        P when is_pid(P) -> P;
        _ -> throw({error, [Text, " is not a pid (write it like <0.123.0>)"]})
    end;
resolve_process(Name) ->
    Clean = case Name of <<":", R/binary>> -> R; <<"Elixir.", _/binary>> -> Name; _ -> Name end,
    Candidates = [Clean, <<"Elixir.", Clean/binary>>],
    case [P || C <- Candidates, A <- [catch binary_to_existing_atom(C, utf8)], is_atom(A), P <- [whereis(A)], is_pid(P)] of
        [P | _] -> P;
        [] -> throw({error, ["no process is registered as ", Name, " on ", atom_to_list(node())]})
    end.

%% ---- helpers ------------------------------------------------------------------------------------------

reg_name(P) when is_pid(P) ->
    case erlang:process_info(P, registered_name) of
        {registered_name, N} -> N;
        _ -> undefined
    end;
reg_name(_) -> undefined.

table_name(T) ->
    case ets:info(T, named_table) of
        true -> ets:info(T, name);
        _ -> iolist_to_binary(io_lib:format("~0p", [T]))
    end.

%% Elixir modules as Elixir writes them (Shop.Orders.init/1), Erlang ones as Erlang does (gen_server:loop/7).
fmt_mfa({M, F, A} = MFA) when is_atom(M), is_atom(F), is_integer(A) -> lumin_lib:fmt_mfa(MFA);
fmt_mfa(_) -> undefined.

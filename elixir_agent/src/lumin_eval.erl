%% @doc Runs on the target: evaluating a cell's Erlang or Elixir code, completing names, and checking that
%% atoms exist — all without the bridge shipping funs (its code is not on the target).
%%
%% Evaluating code is the user running their own code on their node, so the atoms it names are created as
%% they would be in a remote shell. Everything else here only looks atoms up.
%%
%% The evaluator. Each kernel has one evaluator process on each node it is attached to (start/1). It keeps
%% that kernel's bindings on the node — they never travel to the kernel — and runs each cell in a fresh
%% worker process, so that the cell can be stopped without losing them:
%%   - the worker gets only the bindings its code names (a 5M-element list bound two cells ago is not
%%     copied into a cell that does `1 + 1`), and hands back what it bound;
%%   - interrupt (`{cancel, Id}`), the cell's timeout, the kernel's bridge going away (a monitor across
%%     distribution) and detach (`stop`) all kill the worker: an evaluation never outlives its cell;
%%   - the evaluator is the worker's group leader: what the cell prints (`IO.puts`, `io:format`) goes to the
%%     kernel as `eval_output` events, at most ?OUTPUT_LIMIT bytes a cell, gathered for ?OUTPUT_EVERY ms so a
%%     printing loop sends a few messages, not one per line.
-module(lumin_eval).
-export([start/1, erlang/2, elixir/2, complete/2, missing_atoms/1]).

-define(TEXT_LIMIT, 100000).
-define(OUTPUT_LIMIT, 100000).
-define(OUTPUT_EVERY, 50).
-define(INTERNAL, [elixir, elixir_eval, elixir_expand, elixir_dispatch, elixir_lexical, elixir_env, 'Elixir.Code',
                   'Elixir.Module.ParallelChecker', 'Elixir.Kernel.ErrorHandler', lumin_eval, erl_eval, erpc, rpc, proc_lib]).

%% ---- the evaluator -------------------------------------------------------------------------------------

%% @doc Start the evaluator for `Bridge' (the kernel's bridge process). Requests, each answered to `ReplyTo'
%% with `{eval_done, Id, Result}':
%%   {eval, Id, elixir | erlang, Code, TimeoutMs, ReplyTo}
%%   {cancel, Id}      the worker is killed; Result is {error, interrupted}
%%   stop              the worker (if any) is killed and the evaluator ends
-spec start(pid()) -> {ok, pid()}.
start(Bridge) ->
    {ok, spawn(fun() -> erlang:monitor(process, Bridge), loop(#{bridge => Bridge, bindings => #{elixir => #{}, erlang => #{}}, cell => none}) end)}.

loop(S = #{bridge := Bridge, cell := Cell}) ->
    receive
        {eval, Id, Lang, Code, TimeoutMs, ReplyTo} when Cell =:= none ->
            Names = names(Lang, Code),
            Given = maps:to_list(maps:with(Names, maps:get(Lang, maps:get(bindings, S)))),
            Me = self(),
            {Worker, Ref} = spawn_monitor(fun() ->
                                                  group_leader(Me, self()),
                                                  Me ! {evaluated, self(), ?MODULE:Lang(Code, Given)}
                                          end),
            Timer = erlang:send_after(TimeoutMs, self(), {timeout, Id}),
            loop(S#{cell := #{id => Id, lang => Lang, worker => Worker, ref => Ref, reply_to => ReplyTo, timer => Timer,
                              timeout => TimeoutMs, out => [], out_size => 0, cut => 0, flush => none}});
        {eval, Id, _, _, _, ReplyTo} ->
            ReplyTo ! {eval_done, Id, {error, <<"another evaluation is still running on this node">>}, 0},
            loop(S);
        {evaluated, Worker, Result} when is_map(Cell), map_get(worker, Cell) =:= Worker ->
            S2 = case Result of
                     {ok, _, _, New} ->
                         Lang = maps:get(lang, Cell),
                         Bs = maps:get(bindings, S),
                         S#{bindings := Bs#{Lang := maps:merge(maps:get(Lang, Bs), maps:from_list(New))}};
                     _ -> S
                 end,
            Answer = case Result of
                         {ok, Value, Text, _} -> {ok, Value, Text};
                         Error -> Error
                     end,
            loop(finish(S2, Answer));
        {cancel, Id} when is_map(Cell), map_get(id, Cell) =:= Id ->
            loop(finish(kill(S), {error, interrupted}));
        {timeout, Id} when is_map(Cell), map_get(id, Cell) =:= Id ->
            loop(finish(kill(S), {error, {timeout, maps:get(timeout, Cell)}}));
        {'DOWN', Ref, process, _, Reason} when is_map(Cell), map_get(ref, Cell) =:= Ref ->
            %% The worker ended without handing back a result (killed by its own code, or exited).
            loop(finish(S, {error, iolist_to_binary(io_lib:format("the evaluation's process ended: ~0p", [Reason]))}));
        {io_request, From, ReplyAs, Request} ->
            {Reply, S2} = io_request(Request, S),
            From ! {io_reply, ReplyAs, Reply},
            loop(S2);
        flush_output ->
            loop(flush(S));
        stop ->
            kill(S), hand_over_output();
        {'DOWN', _, process, Bridge, _} ->
            %% The kernel is gone (or its connection): nothing may keep running on its behalf.
            kill(S), hand_over_output();
        _ ->
            loop(S)
    end.

%% Processes a cell started and left running (a server, a ticker) have this evaluator as their group
%% leader: before it goes, they get the node's own `user', so their output never fails once we are gone.
hand_over_output() ->
    Me = self(),
    case whereis(user) of
        undefined -> ok;
        User -> [group_leader(User, P) || P <- processes(), P =/= Me, erlang:process_info(P, group_leader) =:= {group_leader, Me}]
    end,
    ok.

kill(S = #{cell := #{worker := Worker, ref := Ref}}) ->
    erlang:demonitor(Ref, [flush]),
    exit(Worker, kill),
    S;
kill(S) -> S.

finish(S = #{cell := Cell = #{id := Id, reply_to := ReplyTo, timer := Timer}}, Result) ->
    erlang:cancel_timer(Timer),
    erlang:demonitor(maps:get(ref, Cell), [flush]),
    S2 = flush(S),
    #{cut := Cut} = maps:get(cell, S2),
    ReplyTo ! {eval_done, Id, Result, Cut},
    S2#{cell := none}.

%% ---- the group leader: output to the kernel, bounded ------------------------------------------------------

io_request({put_chars, Enc, Chars}, S) -> {ok, output(characters(Enc, Chars), S)};
io_request({put_chars, Chars}, S) -> {ok, output(characters(latin1, Chars), S)};
io_request({put_chars, Enc, M, F, A}, S) -> {ok, output(characters(Enc, catch apply(M, F, A)), S)};
io_request({put_chars, M, F, A}, S) -> {ok, output(characters(latin1, catch apply(M, F, A)), S)};
io_request({requests, Rs}, S) ->
    lists:foldl(fun(R, {_, Acc}) -> io_request(R, Acc) end, {ok, S}, Rs);
io_request(getopts, S) -> {[{binary, false}, {encoding, unicode}], S};
io_request({setopts, _}, S) -> {ok, S};
io_request({get_geometry, _}, S) -> {{error, enotsup}, S};
%% A cell has no keyboard: reading input ends at once.
io_request(_, S) -> {eof, S}.

%% Anything that is not characters (a format call that failed) is no output; it never stops the evaluator.
characters(Enc, Chars) ->
    try unicode:characters_to_binary(Chars, case Enc of unicode -> unicode; _ -> latin1 end)
    catch _:_ -> none
    end.

output(Bin, S) when not is_binary(Bin) -> S;
output(Bin, S = #{cell := Cell = #{out := Out, out_size := Size, cut := Cut, flush := Flush}}) ->
    Room = max(0, ?OUTPUT_LIMIT - Size),
    Kept = binary:part(Bin, 0, min(Room, byte_size(Bin))),
    F = case Flush of none -> erlang:send_after(?OUTPUT_EVERY, self(), flush_output); _ -> Flush end,
    S#{cell := Cell#{out := [Out, Kept], out_size := Size + byte_size(Kept), cut := Cut + byte_size(Bin) - byte_size(Kept), flush := F}};
%% Output from a process the cell left running, after its cell ended: nowhere to show it.
output(_, S) -> S.

flush(S = #{bridge := Bridge, cell := Cell = #{id := Id, out := Out, flush := Flush}}) ->
    Flush =/= none andalso erlang:cancel_timer(Flush),
    case iolist_size(Out) of
        0 -> ok;
        _ -> Bridge ! {lumin_event, eval_output, #{id => Id, text => iolist_to_binary(Out)}}
    end,
    S#{cell := Cell#{out := [], flush := none}};
flush(S) -> S.

%% ---- which bindings a cell needs -----------------------------------------------------------------------

%% The variable names the code mentions, as atoms that already exist (a name that is not an atom yet cannot
%% be bound). Code that does not parse names none: its evaluation reports the syntax error.
names(erlang, Code) ->
    case erl_scan:string(unicode:characters_to_list(Code)) of
        {ok, Tokens, _} -> lists:usort([N || {var, _, N} <- Tokens]);
        _ -> []
    end;
names(elixir, Code) ->
    case catch 'Elixir.Code':string_to_quoted(Code, [{existing_atoms_only, true}]) of
        {ok, Ast} -> lists:usort(vars(Ast, []));
        _ -> []
    end.

vars({Name, _, Ctx}, Acc) when is_atom(Name), is_atom(Ctx) -> [Name | Acc];
vars({A, _, B}, Acc) -> vars(B, vars(A, Acc));
vars({A, B}, Acc) -> vars(B, vars(A, Acc));
vars(L, Acc) when is_list(L) -> lists:foldl(fun vars/2, Acc, L);
vars(_, Acc) -> Acc.

%% ---- evaluating ------------------------------------------------------------------------------------------
%% @doc Evaluate Erlang expressions (`1 + 2.', or several separated by commas). Works on every node.
-spec erlang(binary(), list()) -> {ok, term(), binary(), list()} | {error, binary()}.
erlang(Code, Bindings) ->
    Text = unicode:characters_to_list(Code),
    Source = case string:trim(Text, trailing) of
                 "" -> "ok.";
                 T -> case lists:last(T) of $. -> T; _ -> T ++ "." end
             end,
    try
        {ok, Tokens, _} = case erl_scan:string(Source) of
                              {ok, _, _} = Ok -> Ok;
                              {error, {L, M, E}, _} -> throw({syntax, io_lib:format("line ~p: ~ts", [L, M:format_error(E)])})
                          end,
        Exprs = case erl_parse:parse_exprs(Tokens) of
                    {ok, Es} -> Es;
                    {error, {L2, M2, E2}} -> throw({syntax, io_lib:format("line ~p: ~ts", [loc_line(L2), M2:format_error(E2)])})
                end,
        {value, Value, NewBindings} = erl_eval:exprs(Exprs, erl_eval:add_binding('_', undefined, orddict:from_list(Bindings))),
        Shown = lumin_redact:term(Value),
        {ok, lumin_columns:cut_term(Shown), lumin_redact:text(limit(io_lib:format("~tp", [Shown]))), erl_eval:del_binding('_', NewBindings)}
    catch
        throw:{syntax, Msg} -> {error, iolist_to_binary(["syntax error: ", Msg])};
        Class:Reason:Stack ->
            {error, lumin_redact:text(limit(erl_error:format_exception(Class, lumin_redact:term(Reason), prune(Stack))))}
    end.

loc_line({L, _}) -> L;
loc_line(L) -> L.

%% @doc Evaluate Elixir code with Code.eval_string/2; a clear error where the node has no Elixir.
-spec elixir(binary(), list()) -> {ok, term(), binary(), list()} | {error, binary()}.
elixir(Code, Bindings) ->
    case code:ensure_loaded('Elixir.Code') of
        {module, _} ->
            try 'Elixir.Code':eval_string(Code, Bindings) of
                {Value, NewBindings} ->
                    Shown = lumin_redact:term(Value),
                    Text = 'Elixir.Kernel':inspect(Shown, [{pretty, true}, {limit, 200}, {printable_limit, 4096}, {width, 100}]),
                    {ok, lumin_columns:cut_term(Shown), lumin_redact:text(limit(Text)), NewBindings}
            catch
                Class:Reason:Stack ->
                    {error, lumin_redact:text(limit('Elixir.Exception':format(Class, lumin_redact:term(Reason), prune(Stack))))}
            end;
        _ ->
            {error, iolist_to_binary([atom_to_list(node()), " has no Elixir: use %%erlang on this node"])}
    end.

%% The evaluator's own frames (Elixir's and OTP's, and ours) say nothing to the user.
%% (A frame's arguments, as a function clause error gives them, are redacted by their parameters' names.)
prune(Stack) -> lumin_redact:stacktrace([F || F = {M, _, _, _} <- Stack, not lists:member(M, ?INTERNAL)]).

limit(Chars) ->
    B = unicode:characters_to_binary(Chars),
    case byte_size(B) > ?TEXT_LIMIT of
        true -> <<(binary:part(B, 0, ?TEXT_LIMIT))/binary, "\n… (cut: the value's text is longer)">>;
        false -> B
    end.

%% @doc Completion: loaded modules whose name starts with Prefix (Module = undefined), or the exported
%% functions of a loaded Module. Names travel as binaries; no atom is made.
-spec complete(binary() | undefined, binary()) -> [binary()].
complete(undefined, Prefix) ->
    %% Loaded modules and those on the code path not loaded yet (a probe loads them): names are read as text,
    %% so no atom is made and nothing is loaded.
    Names = [atom_to_binary(M, utf8) || {M, _} <- code:all_loaded()]
        ++ [unicode:characters_to_binary(N) || {N, _, false} <- code:all_available()],
    Shown = [case N of <<"Elixir.", R/binary>> -> R; _ -> N end || N <- Names],
    lists:usort([N || N <- Shown, is_prefix(Prefix, N)]);
complete(ModBin, Prefix) ->
    case [M || C <- [ModBin, <<"Elixir.", ModBin/binary>>], M <- [catch binary_to_existing_atom(C, utf8)], is_atom(M),
               erlang:module_loaded(M)] of
        [M | _] ->
            lists:usort([iolist_to_binary([atom_to_binary(F, utf8), "/", integer_to_binary(A)])
                         || {F, A} <- M:module_info(exports), is_prefix(Prefix, atom_to_binary(F, utf8)),
                            F =/= module_info, F =/= '__info__']);
        [] -> []
    end.

is_prefix(P, B) -> binary:longest_common_prefix([P, B]) =:= byte_size(P).

%% @doc Which of these names are NOT atoms on this node (so no term there can contain them)?
-spec missing_atoms([binary()]) -> [binary()].
missing_atoms(Names) ->
    [N || N <- Names, case catch binary_to_existing_atom(N, utf8) of A when is_atom(A) -> false; _ -> true end].

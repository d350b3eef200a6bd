%% @doc Runs on the target: evaluating a cell's Erlang or Elixir code, completing names, and checking that
%% atoms exist — all without the bridge shipping funs (its code is not on the target).
%%
%% Evaluating code is the user running their own code on their node, so the atoms it names are created as
%% they would be in a remote shell. Everything else here only looks atoms up.
-module(lumin_eval).
-export([erlang/2, elixir/2, complete/2, missing_atoms/1]).

-define(TEXT_LIMIT, 100000).

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
        {ok, lumin_columns:cut_term(Value), limit(io_lib:format("~tp", [Value])), erl_eval:del_binding('_', NewBindings)}
    catch
        throw:{syntax, Msg} -> {error, iolist_to_binary(["syntax error: ", Msg])};
        Class:Reason:Stack ->
            {error, limit(erl_error:format_exception(Class, Reason, Stack))}
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
                    Text = 'Elixir.Kernel':inspect(Value, [{pretty, true}, {limit, 200}, {printable_limit, 4096}, {width, 100}]),
                    {ok, lumin_columns:cut_term(Value), limit(Text), NewBindings}
            catch
                Class:Reason:Stack ->
                    {error, limit('Elixir.Exception':format(Class, Reason, prune(Stack)))}
            end;
        _ ->
            {error, iolist_to_binary([atom_to_list(node()), " has no Elixir: use %%erlang on this node"])}
    end.

%% The evaluator's own frames say nothing to the user.
prune(Stack) -> [F || F = {M, _, _, _} <- Stack, not lists:member(M, [elixir, elixir_eval, elixir_expand, 'Elixir.Code', lumin_eval, erl_eval])].

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
    Names = [atom_to_binary(M, utf8) || {M, _} <- code:all_loaded()],
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

%% @doc What redaction needs from a module's debug info, read without creating a single atom on the node:
%% the names of each function's parameters, and the field names of the records it defines.
%%
%% Why not beam_lib:chunks(File, [debug_info]) or binary_to_term/2: the debug info holds every variable name
%% of the module as an atom, and those atoms do not exist on the node until something reads them — reading
%% them would grow the atom table for good, and binary_to_term(_, [safe]) refuses the whole chunk as soon as
%% one is missing (which is most of the time). So the chunk's external term format is read here, with atoms
%% that already exist as atoms and the others as `{lumin_atom, Text}'.
%%
%% A module with no debug info (compiled without it, stripped, or loaded from a binary with no file) gives
%% nothing: its arguments are redacted only by what they hold (secret keys, values known to be secret).
-module(lumin_debug_info).
-export([read/1, params/3, records/1, decode/1]).

%% @doc The module's functions as {Name, Arity, [ParamNames per clause]} and records as {Name, [FieldName]},
%% names as binaries; `none' when it has no debug info this can read.
-spec read(module()) -> {[{binary(), arity(), [[binary() | none]]}], [{atom(), [binary()]}]} | none.
read(M) ->
    case code:which(M) of
        File when is_list(File) ->
            try beam_lib:chunks(File, ["Dbgi"]) of
                {ok, {_, [{"Dbgi", Bin}]}} when is_binary(Bin), byte_size(Bin) > 0 -> from_chunk(Bin);
                _ -> none
            catch _:_ -> none
            end;
        _ -> none
    end.

from_chunk(Bin) ->
    try decode(Bin) of
        {debug_info_v1, erl_abstract_code, {Forms, _}} when is_list(Forms) -> erlang_forms(Forms);
        {debug_info_v1, elixir_erl, {elixir_v1, #{definitions := Defs}, _}} -> {elixir_defs(Defs), []};
        _ -> none
    catch _:_ -> none
    end.

%% @doc The parameter names of `F'/`A' (each position: the name some clause gives it, or none), from read/1.
-spec params({list(), list()} | none, atom(), arity()) -> [[binary() | none]].
params(none, _, _) -> [];
params({Funs, _}, F, A) ->
    Name = atom_to_binary(F, utf8),
    [Clause || {N, Ar, Clauses} <- Funs, N =:= Name, Ar =:= A, Clause <- Clauses].

%% @doc The records a module defines: {Name, FieldNames}.
records(none) -> [];
records({_, Records}) -> Records.

%% ---- Erlang abstract code ---------------------------------------------------------------------------------

erlang_forms(Forms) ->
    Funs = [{text(F), A, [[erl_var(P) || P <- Ps] || {clause, _, Ps, _, _} <- Cs]}
            || {function, _, F, A, Cs} <- Forms],
    Records = [{R, [field(Fd) || Fd <- Fields]} || {attribute, _, record, {R, Fields}} <- Forms, is_atom(R)],
    {Funs, Records}.

erl_var({var, _, V}) -> text(V);
erl_var({match, _, L, R}) ->
    case erl_var(L) of
        none -> erl_var(R);
        N -> N
    end;
erl_var(_) -> none.

field({typed_record_field, F, _}) -> field(F);
field({record_field, _, {atom, _, N}}) -> text(N);
field({record_field, _, {atom, _, N}, _}) -> text(N);
field(_) -> <<>>.

%% ---- Elixir definitions ----------------------------------------------------------------------------------
%% {{Name, Arity}, Kind, Meta, Clauses}; each clause {Meta, Args, Guards, Body}; a variable is {Name, Meta, Context}.

elixir_defs(Defs) ->
    [{text(F), A, [[ex_var(P) || P <- Args] || {_, Args, _, _} <- Cs, is_list(Args)]}
     || {{F, A}, _, _, Cs} <- Defs, is_list(Cs)].

ex_var({'=', _, [L, R]}) ->
    case ex_var(L) of
        none -> ex_var(R);
        N -> N
    end;
ex_var({'\\\\', _, [V, _]}) -> ex_var(V);
ex_var({Name, Meta, Ctx}) when is_list(Meta), (is_atom(Ctx) orelse element(1, Ctx) =:= lumin_atom) ->
    case text(Name) of
        <<"_">> -> none;
        T -> T
    end;
ex_var(_) -> none.

text(A) when is_atom(A) -> atom_to_binary(A, utf8);
text({lumin_atom, T}) -> T;
text(_) -> none.

%% ---- external term format, atoms kept as text unless they exist -----------------------------------------

%% @doc A term from its external format (as term_to_binary/1,2 writes it, compressed or not); an atom that does
%% not exist on the node becomes `{lumin_atom, Text}'. Pids, ports, references and funs are not read (debug
%% info has none): they raise.
-spec decode(binary()) -> term().
decode(<<131, 80, _Size:32, Z/binary>>) -> decode(<<131, (zlib:uncompress(Z))/binary>>);
decode(<<131, Rest/binary>>) ->
    {T, <<>>} = d(Rest),
    T.

d(<<97, I, R/binary>>) -> {I, R};
d(<<98, I:32/signed, R/binary>>) -> {I, R};
d(<<70, F:64/float, R/binary>>) -> {F, R};
d(<<99, F:31/binary, R/binary>>) -> {list_to_float(string:trim(binary_to_list(F), trailing, [0])), R};
d(<<100, N:16, A:N/binary, R/binary>>) -> {atom(A, latin1), R};
d(<<115, N, A:N/binary, R/binary>>) -> {atom(A, latin1), R};
d(<<118, N:16, A:N/binary, R/binary>>) -> {atom(A, utf8), R};
d(<<119, N, A:N/binary, R/binary>>) -> {atom(A, utf8), R};
d(<<104, N, R/binary>>) -> tuple(N, R);
d(<<105, N:32, R/binary>>) -> tuple(N, R);
d(<<106, R/binary>>) -> {[], R};
d(<<107, N:16, S:N/binary, R/binary>>) -> {binary_to_list(S), R};
d(<<108, N:32, R/binary>>) ->
    {Items, R1} = many(N, R, []),
    {Tail, R2} = d(R1),
    {Items ++ Tail, R2};
d(<<109, N:32, B:N/binary, R/binary>>) -> {binary:copy(B), R};
d(<<77, N:32, Bits, B:N/binary, R/binary>>) ->
    Keep = (N - 1) * 8 + Bits,
    <<V:Keep/bitstring, _/bitstring>> = B,
    {V, R};
d(<<110, N, Sign, D:N/binary, R/binary>>) -> {big(Sign, D), R};
d(<<111, N:32, Sign, D:N/binary, R/binary>>) -> {big(Sign, D), R};
d(<<116, N:32, R/binary>>) ->
    {KVs, R1} = many(2 * N, R, []),
    {maps:from_list(pairs(KVs)), R1}.

tuple(N, R) ->
    {Items, R1} = many(N, R, []),
    {list_to_tuple(Items), R1}.

many(0, R, Acc) -> {lists:reverse(Acc), R};
many(N, R, Acc) ->
    {T, R1} = d(R),
    many(N - 1, R1, [T | Acc]).

pairs([K, V | Rest]) -> [{K, V} | pairs(Rest)];
pairs([]) -> [].

big(Sign, Digits) ->
    V = binary:decode_unsigned(Digits, little),
    case Sign of 0 -> V; _ -> -V end.

atom(Bin, Enc) ->
    Utf8 = case Enc of
               latin1 -> unicode:characters_to_binary(Bin, latin1, utf8);
               utf8 -> Bin
           end,
    try binary_to_existing_atom(Utf8, utf8)
    catch error:badarg -> {lumin_atom, Utf8}
    end.

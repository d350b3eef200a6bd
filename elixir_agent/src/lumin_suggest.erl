%% @doc Tests written from recorded calls (`%suggest_tests'), on the shadow node (never on a target): an
%% ExUnit module (an EUnit one when every recorded module is Erlang) with one test per behaviour seen.
%%
%% A behaviour is an equivalence class of calls: the same function, arguments of the same shape (an integer
%% by its sign, a string, an atom by its value, a tuple by its tag, a map, a list empty or not…) and a result
%% of the same shape — or the same exception. Each test asserts up to `examples' recorded calls of its class,
%% spread over it (the smallest, the middle and the largest arguments), each with its exact recorded result,
%% so a change to the function shows.
%%
%% What cannot be written as a literal is left out, with a comment saying why: pids, references, ports and
%% funs (they name things of the recorded node's run), terms the node cut (too big to ship), and values the
%% node redacted (`lumin_redacted', shown as [redacted]): a secret is never written into a test file.
-module(lumin_suggest).
-export([generate/2]).

%% Longest literal written (characters): past this a call is left out, as unreadable.
-define(MAX_LITERAL, 2000).

%% @doc Rows as lumin_shadow's call rows. Options: language (elixir | erlang), module (the test module's
%% name, text), examples (per test), header (lines for the top comment).
%% Returns #{code, tests, calls, left_out => [Text]}.
-spec generate([tuple()] | binary(), map()) -> map().
generate(Packed, Opts) when is_binary(Packed) ->
    %% Rows come compressed over the peer's standard I/O, as for replays (lumin_shadow:replay/1).
    generate(binary_to_term(Packed), Opts);
generate(Rows, Opts = #{language := Lang}) ->
    Max = maps:get(examples, Opts, 3),
    {Calls, Left} = lists:foldl(fun(R, {Cs, Ls}) ->
                                        case call(R) of
                                            {ok, C} -> {[C | Cs], Ls};
                                            {error, Why} -> {Cs, [Why | Ls]}
                                        end
                                end, {[], []}, Rows),
    Classes = classes(lists:reverse(Calls)),
    Tests = [test(Lang, Key, spread(lists:usort(Cs), Max)) || {Key, Cs} <- Classes],
    LeftOut = [unicode:characters_to_binary(io_lib:format("~b recorded call~s left out: ~ts", [N, plural(N), Why]))
               || {Why, N} <- count(Left)],
    Code = module(Lang, maps:get(module, Opts), maps:get(header, Opts, []), LeftOut, Tests),
    #{code => unicode:characters_to_binary(Code), tests => length(Tests), calls => length(Calls), left_out => LeftOut}.

plural(1) -> "";
plural(_) -> "s".

count(L) ->
    lists:keysort(1, maps:to_list(lists:foldl(fun(W, M) -> maps:update_with(W, fun(N) -> N + 1 end, 1, M) end, #{}, L))).

%% A recorded call as {M, F, Args, Result} (Result: {return, V} | {raise, Class, Reason}), or why it is left out.
call({_Row, _Start, M, F, ArgsBin, Outcome, ResultBin, Class, ReasonBin, _Dur}) ->
    case {term(ArgsBin), Outcome} of
        {{error, Why}, _} -> {error, Why};
        {{ok, undefined}, _} -> {error, <<"recorded without arguments (arm the probe with --args)">>};
        {{ok, Args}, <<"return">>} ->
            case term(ResultBin) of
                {ok, V} -> writable(M, F, Args, {return, V});
                {error, Why} -> {error, Why}
            end;
        {{ok, Args}, <<"exception">>} ->
            case term(ReasonBin) of
                {ok, R} -> writable(M, F, Args, {raise, binary_to_atom(Class, utf8), R});
                {error, Why} -> {error, Why}
            end;
        _ -> {error, <<"recorded without a result">>}
    end.

term(undefined) -> {ok, undefined};
term(Bin) ->
    try binary_to_term(Bin) of
        {lumin_cut, _, _} -> {error, <<"a term was cut on the node (too big to ship), so it cannot be written">>};
        T -> {ok, T}
    catch error:badarg -> {error, <<"a term is not valid external format">>}
    end.

writable(M, F, Args, Result) ->
    Terms = case Result of {return, V} -> [Args, V]; {raise, _, R} -> [Args, R] end,
    case lists:foldl(fun(T, none) -> unwritable(T); (_, W) -> W end, none, Terms) of
        none -> {ok, {M, F, Args, Result}};
        Why -> {error, Why}
    end.

%% Why a term cannot be a literal in a test, or none.
unwritable(lumin_redacted) -> <<"a value was redacted on the node ([redacted]); secrets are never written into a test">>;
unwritable(T) when is_pid(T) -> <<"a pid is in the call (it names a process of the recorded run; it cannot be written as a literal)">>;
unwritable(T) when is_reference(T) -> <<"a reference is in the call (it cannot be written as a literal)">>;
unwritable(T) when is_port(T) -> <<"a port is in the call (it cannot be written as a literal)">>;
unwritable(T) when is_function(T) -> <<"a fun is in the call (it cannot be written as a literal)">>;
unwritable({lumin_cut, B, P}) when is_integer(B), is_binary(P) -> <<"a term was cut on the node (too big to ship), so it cannot be written">>;
unwritable(T) when is_list(T) -> first_unwritable(list_items(T));
unwritable(T) when is_tuple(T) -> first_unwritable(tuple_to_list(T));
unwritable(T) when is_map(T) -> first_unwritable(maps:keys(T) ++ maps:values(T));
unwritable(_) -> none.

list_items([H | T]) -> [H | list_items(T)];
list_items([]) -> [];
list_items(Tail) -> [Tail].

first_unwritable([]) -> none;
first_unwritable([X | Xs]) ->
    case unwritable(X) of
        none -> first_unwritable(Xs);
        Why -> Why
    end.

%% Calls grouped by behaviour, in the order each behaviour was first seen.
classes(Calls) ->
    {Order, Groups} = lists:foldl(fun(C, {O, G}) ->
                                          K = key(C),
                                          case G of
                                              #{K := L} -> {O, G#{K := [C | L]}};
                                              _ -> {[K | O], G#{K => [C]}}
                                          end
                                  end, {[], #{}}, Calls),
    [{K, maps:get(K, Groups)} || K <- lists:reverse(Order)].

key({M, F, Args, {return, V}}) -> {M, F, length(Args), [shape(A) || A <- Args], {return, shape(V)}};
key({M, F, Args, {raise, C, R}}) -> {M, F, length(Args), [shape(A) || A <- Args], {raise, C, reason_shape(C, R)}}.

%% A term's shape, in words a test name can use.
shape(0) -> <<"0">>;
shape(I) when is_integer(I), I < 0 -> <<"a negative integer">>;
shape(I) when is_integer(I) -> <<"a positive integer">>;
shape(F) when is_float(F) -> <<"a float">>;
shape(<<>>) -> <<"an empty string">>;
shape(B) when is_binary(B) ->
    case io_lib:printable_unicode_list(unicode:characters_to_list(B)) of
        true -> <<"a string">>;
        false -> <<"a binary">>
    end;
shape(A) when is_atom(A) -> atom_text(A);
shape([]) -> <<"[]">>;
shape(L) when is_list(L) -> <<"a list">>;
shape(#{'__struct__' := S}) when is_atom(S) -> unicode:characters_to_binary(["a ", name(S)]);
shape(M) when is_map(M), map_size(M) =:= 0 -> <<"%{}">>;
shape(M) when is_map(M) -> <<"a map">>;
shape({}) -> <<"{}">>;
shape(T) when is_tuple(T), is_atom(element(1, T)) ->
    unicode:characters_to_binary(["{", atom_text(element(1, T)), case tuple_size(T) of 1 -> ""; _ -> ", …" end, "}"]);
shape(T) when is_tuple(T) -> unicode:characters_to_binary(["a ", integer_to_list(tuple_size(T)), "-tuple"]);
shape(_) -> <<"a term">>.

reason_shape(error, R) -> exception_name(R);
reason_shape(_, R) -> shape(R).

atom_text(A) ->
    case atom_to_binary(A, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        B when A =:= nil; A =:= true; A =:= false -> B;
        B -> <<":", B/binary>>
    end.

name(M) ->
    case atom_to_binary(M, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        B -> B
    end.

%% The exception an Elixir test asserts: what `raise' makes of the reason (FunctionClauseError for
%% function_clause…).
exception_name(R) ->
    case code:which('Elixir.Exception') of
        non_existing -> lumin_shadow:format(erlang, R);
        _ -> name(maps:get('__struct__', 'Elixir.Exception':normalize(error, R, [])))
    end.

%% Up to Max calls spread over a class's sorted calls: first, last, and evenly between.
spread(Cs, Max) when length(Cs) =< Max -> Cs;
spread(Cs, 1) -> [hd(Cs)];
spread(Cs, Max) ->
    N = length(Cs),
    Picks = lists:usort([1 + round(I * (N - 1) / (Max - 1)) || I <- lists:seq(0, Max - 1)]),
    [lists:nth(P, Cs) || P <- Picks].

%% ---- writing --------------------------------------------------------------------------------------------

test(Lang, {M, F, Arity, ArgShapes, ResultKey}, Calls) ->
    What = case ResultKey of
               {return, S} -> ["returns ", S];
               {raise, error, E} -> ["raises ", E];
               {raise, throw, S} -> ["throws ", S];
               {raise, exit, S} -> ["exits with ", S]
           end,
    Name = unicode:characters_to_binary([mfa(Lang, M, F, Arity), " with ", join_shapes(ArgShapes), " ", What]),
    Asserts = [assertion(Lang, C) || C <- Calls],
    {Name, [A || {ok, A} <- Asserts], [W || {error, W} <- Asserts]}.

join_shapes([]) -> <<"no arguments">>;
join_shapes(Shapes) -> lists:join(", ", Shapes).

mfa(elixir, M, F, A) -> [module_text(M), ".", atom_to_binary(F, utf8), "/", integer_to_list(A)];
mfa(erlang, M, F, A) -> [atom_to_binary(M, utf8), ":", atom_to_binary(F, utf8), "/", integer_to_list(A)].

assertion(Lang, {M, F, Args, Result}) ->
    Call = call_text(Lang, M, F, Args),
    Lits = [literal(Lang, T) || T <- case Result of {return, V} -> [V]; {raise, _, R} -> [R] end],
    case lists:any(fun(L) -> L =:= too_long end, [Call | Lits]) of
        true -> {error, <<"its terms are too long to be a readable literal">>};
        false -> {ok, assertion(Lang, Call, Result, hd(Lits))}
    end.

assertion(elixir, Call, {return, _}, Lit) -> ["assert ", Call, " == ", Lit];
assertion(elixir, Call, {raise, error, R}, _) -> ["assert_raise ", exception_name(R), ", fn -> ", Call, " end"];
assertion(elixir, Call, {raise, throw, _}, Lit) -> ["assert catch_throw(", Call, ") == ", Lit];
assertion(elixir, Call, {raise, exit, _}, Lit) -> ["assert catch_exit(", Call, ") == ", Lit];
assertion(erlang, Call, {return, _}, Lit) -> ["?assertEqual(", Lit, ", ", Call, ")"];
assertion(erlang, Call, {raise, error, _}, Lit) -> ["?assertError(", Lit, ", ", Call, ")"];
assertion(erlang, Call, {raise, throw, _}, Lit) -> ["?assertThrow(", Lit, ", ", Call, ")"];
assertion(erlang, Call, {raise, exit, _}, Lit) -> ["?assertExit(", Lit, ", ", Call, ")"].

call_text(Lang, M, F, Args) ->
    Lits = [literal(Lang, A) || A <- Args],
    case lists:member(too_long, Lits) of
        true -> too_long;
        false -> call_text(Lang, M, F, Args, lists:join(", ", Lits))
    end.

call_text(elixir, M, F, _, ArgText) ->
    Fun = atom_to_binary(F, utf8),
    case re:run(Fun, "^[a-z_][a-zA-Z0-9_]*[?!]?$") of
        {match, _} -> [module_text(M), ".", Fun, "(", ArgText, ")"];
        nomatch -> ["apply(", module_text(M), ", ", literal(elixir, F), ", [", ArgText, "])"]
    end;
call_text(erlang, M, F, _, ArgText) ->
    [io_lib:format("~tp:~tp", [M, F]), "(", ArgText, ")"].

module_text(M) ->
    case atom_to_binary(M, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        B -> [":", B]
    end.

%% A term as source text: Elixir's inspect with structs as plain maps (a struct's own Inspect may hide fields
%% or not be code), Erlang's ~p.
literal(elixir, T) ->
    check_length('Elixir.Kernel':inspect(T, [{limit, infinity}, {printable_limit, infinity}, {structs, false},
                                             {width, infinity}]));
literal(erlang, T) -> check_length(unicode:characters_to_binary(io_lib:format("~0tp", [T]))).

check_length(B) when byte_size(B) > ?MAX_LITERAL -> too_long;
check_length(B) -> B.

module(elixir, Name, Header, LeftOut, Tests) ->
    ["defmodule ", Name, " do\n",
     comment("  # ", Header ++ [<<"">>] ++ LeftOut),
     "  use ExUnit.Case, async: true\n",
     [["\n  test ", literal(elixir, TName), " do\n",
       [["    ", A, "\n"] || A <- Asserts],
       comment("    # ", skipped(Skipped)),
       "  end\n"] || {TName, Asserts, Skipped} <- Tests, Asserts =/= []],
     [["\n  # ", TName, ": no recorded call of it can be written as a test\n"] || {TName, [], _} <- Tests],
     "end\n"];
module(erlang, Name, Header, LeftOut, Tests) ->
    ["-module(", Name, ").\n",
     comment("%% ", Header ++ [<<"">>] ++ LeftOut),
     "-include_lib(\"eunit/include/eunit.hrl\").\n",
     [["\n", io_lib:format("~tp", [binary_to_atom(unicode:characters_to_binary([TName, "_test"]), utf8)]), "() ->\n",
       comment("    %% ", skipped(Skipped)),
       lists:join(",\n", [["    ", A] || A <- Asserts]), ".\n"] || {TName, Asserts, Skipped} <- Tests, Asserts =/= []],
     [["\n%% ", TName, ": no recorded call of it can be written as a test\n"] || {TName, [], _} <- Tests]].

skipped([]) -> [];
skipped(Whys) -> [unicode:characters_to_binary(["left out: ", W]) || W <- lists:usort(Whys)].

comment(_, []) -> [];
comment(Prefix, Lines) -> [[string:trim([Prefix, L], trailing), "\n"] || L <- Lines].

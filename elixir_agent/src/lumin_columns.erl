%% @doc Builds a columnar batch (see kernel/beam/protocol.ts) row by row, without a term per event on the
%% kernel side: numbers go into little-endian binaries, repeated values into dictionaries, terms into one
%% binary of concatenated external-format terms with offsets.
-module(lumin_columns).
-export([new/1, add/2, count/1, encode/3, cut_term/1]).

-type kind() :: f64 | i32 | dict | terms | {const, term()}.
-opaque builder() :: {non_neg_integer(), [{atom(), kind(), term()}]}.
-export_type([builder/0]).

%% @doc A builder for columns given as [{Name, Kind}], in the order rows list their values.
-spec new([{atom(), kind()}]) -> builder().
new(Columns) ->
    {0, [{Name, Kind, empty(Kind)} || {Name, Kind} <- Columns]}.

empty(f64) -> <<>>;
empty(i32) -> <<>>;
empty(dict) -> {#{}, 0, <<>>};
empty(terms) -> {<<0:32/little>>, [], 0};
empty({const, _}) -> none.

%% @doc Add one row: a list of values in column order (`undefined' is null).
-spec add([term()], builder()) -> builder().
add(Values, {N, Cols}) ->
    {N + 1, add_values(Values, Cols)}.

add_values([V | Vs], [{Name, Kind, Acc} | Cs]) ->
    [{Name, Kind, put(Kind, V, Acc)} | add_values(Vs, Cs)];
add_values([], []) -> [].

put(f64, V, Acc) when is_number(V) -> <<Acc/binary, (float(V)):64/float-little>>;
put(f64, _, Acc) -> <<Acc/binary, 0:64/float-little>>;
put(i32, V, Acc) when is_integer(V) -> <<Acc/binary, V:32/signed-little>>;
put(i32, _, Acc) -> <<Acc/binary, 0:32/signed-little>>;
put(dict, V, {Map, Next, Idx}) ->
    case Map of
        #{V := I} -> {Map, Next, <<Idx/binary, I:32/little>>};
        _ -> {Map#{V => Next}, Next + 1, <<Idx/binary, Next:32/little>>}
    end;
put(terms, undefined, {Offsets, Data, Off}) ->
    {<<Offsets/binary, Off:32/little>>, Data, Off};
put(terms, {lumin_raw, Bin}, {Offsets, Data, Off}) ->
    Off1 = Off + byte_size(Bin),
    {<<Offsets/binary, Off1:32/little>>, [Data | Bin], Off1};
put(terms, V, Acc) ->
    put(terms, {lumin_raw, term_to_binary(cut_term(V))}, Acc);
put({const, _}, _, none) -> none.

-spec count(builder()) -> non_neg_integer().
count({N, _}) -> N.

%% @doc The batch as external format, ready to send: #{kind, count, dropped, columns}.
-spec encode(atom(), non_neg_integer(), builder()) -> binary().
encode(Kind, Dropped, {N, Cols}) ->
    Columns = maps:from_list([{Name, finish(K, Acc)} || {Name, K, Acc} <- Cols]),
    term_to_binary(#{kind => Kind, count => N, dropped => Dropped, columns => Columns}).

finish(f64, Bin) -> {f64, Bin};
finish(i32, Bin) -> {i32, Bin};
finish(dict, {Map, _, Idx}) ->
    Values = [V || {V, _} <- lists:keysort(2, maps:to_list(Map))],
    {dict, Values, Idx};
finish(terms, {Offsets, Data, _}) -> {terms, Offsets, iolist_to_binary(Data)};
finish({const, V}, none) -> {const, V}.

%% @doc A term small enough to keep, or `{lumin_cut, Bytes, Prefix}' where Prefix shows its start.
-spec cut_term(term()) -> term().
cut_term(T) ->
    Max = lumin_budget:max_term_bytes(),
    case erlang:external_size(T) of
        S when S =< Max -> T;
        S -> {lumin_cut, S, prefix(T, Max div 8)}
    end.

prefix(B, N) when is_binary(B) -> binary:part(B, 0, min(byte_size(B), N * 4));
prefix(L, N) when is_list(L) -> take(L, N);
prefix(T, N) when is_tuple(T) -> list_to_tuple([cut_term(E) || E <- take(tuple_to_list(T), N)]);
prefix(M, N) when is_map(M) -> maps:from_list(take(maps:to_list(M), N));
prefix(T, _) -> T.

take(L, N) -> take(L, N, []).
take([H | T], N, Acc) when N > 0 -> take(T, N - 1, [cut_small(H) | Acc]);
take(_, _, Acc) -> lists:reverse(Acc).

cut_small(T) ->
    case erlang:external_size(T) > 256 of
        true -> '...';
        false -> T
    end.

%% @doc Builds a columnar batch (see kernel/beam/protocol.ts) without a term per event on the kernel side:
%% numbers go into little-endian binaries, repeated values into dictionaries, terms into one binary of
%% concatenated external-format terms with offsets.
%%
%% Rows are taken one at a time (add/2 only conses the row) and turned into columns in bulk, a few hundred
%% rows at a time, column by column: that keeps the per-event cost of a probe small, and what is held on the
%% node between batches compact (binaries, not terms). column/2 and batch/4 build a batch from whole columns
%% at once, for a caller that keeps its rows in its own shape (lumin_kind_calls, lumin_kind_messages).
%%
%% This is where terms become external format, so it is also where secrets are taken out of them
%% (lumin_redact): every term cell is cut, then redacted, then encoded; an argument list with its function,
%% so that parameters named as secrets in the source are redacted too (column(cut_args, _)).
-module(lumin_columns).
-export([new/1, add/2, add_all/3, count/1, encode/3, cut_term/1, present/1]).
-export([column/2, batch/4, dict_by/2, derive/2, by_index/2, nulls/1]).

-type kind() :: f64 | i32 | dict | terms | {const, term()}.
-opaque builder() :: {non_neg_integer(), [{atom(), kind()}], [tuple()], non_neg_integer(), [term()]}.
-export_type([builder/0]).

%% Rows held as they came, before they are folded into the columns.
-define(PENDING, 512).

%% @doc A builder for columns given as [{Name, Kind}], in the order rows list their values.
-spec new([{atom(), kind()}]) -> builder().
new(Columns) ->
    {0, Columns, [], 0, [empty(Kind) || {_, Kind} <- Columns]}.

empty(f64) -> <<>>;
empty(i32) -> <<>>;
empty(dict) -> {#{}, 0, <<>>};
empty(terms) -> {<<0:32/little>>, <<>>, 0};
empty({const, _}) -> none.

%% @doc Add one row: a list (or a tuple) of values in column order (`undefined' is null; `{lumin_raw, Bin}'
%% in a terms column is a term already in external format).
-spec add([term()] | tuple(), builder()) -> builder().
add(Row, B) when is_list(Row) -> add(list_to_tuple(Row), B);
add(Row, {N, Specs, Pending, NP, Accs}) when NP >= ?PENDING ->
    {N + 1, Specs, [Row], 1, fold(Specs, Pending, Accs)};
add(Row, {N, Specs, Pending, NP, Accs}) ->
    {N + 1, Specs, [Row | Pending], NP + 1, Accs}.

%% @doc Add `K' rows at once (tuples in column order, NEWEST first): add/2 for each, in one step.
-spec add_all([tuple()], non_neg_integer(), builder()) -> builder().
add_all(Rows, K, {N, Specs, Pending, NP, Accs}) when NP + K > ?PENDING ->
    {N + K, Specs, [], 0, fold(Specs, Rows ++ Pending, Accs)};
add_all(Rows, K, {N, Specs, Pending, NP, Accs}) ->
    {N + K, Specs, Rows ++ Pending, NP + K, Accs}.

-spec count(builder()) -> non_neg_integer().
count({N, _, _, _, _}) -> N.

%% @doc The batch as external format, ready to send: #{kind, count, dropped, columns}.
-spec encode(atom(), non_neg_integer(), builder()) -> binary().
encode(Kind, Dropped, {N, Specs, Pending, _, Accs}) ->
    Accs1 = fold(Specs, Pending, Accs),
    batch(Kind, N, Dropped, maps:from_list([{Name, finish(K, Acc)} || {{Name, K}, Acc} <- lists:zip(Specs, Accs1)])).

%% @doc A whole column, finished, from its values in row order. `cut_terms': a terms column whose values
%% were cut already (lumin_lib:cut/2); `cut_args': the same for argument lists, given as {MFA, Args}.
-spec column(kind() | cut_terms | cut_args, [term()]) -> term().
column(cut_args, Values) ->
    ready_terms(lumin_redact:args_list(Values), redacted);
column(cut_terms, Values) -> ready_terms(Values, {redact, lumin_redact:redactor()});
column(Kind, Values) -> finish(Kind, put_all(Kind, Values, empty(Kind))).

%% A terms column of values cut already; redacted here unless `redacted'.
ready_terms(Values, Cut) ->
    case all_undefined(Values, 0) of
        false -> finish(terms, terms(Values, <<0:32/little>>, <<>>, 0, Cut));
        N -> nulls(N)
    end.

%% @doc A finished terms column of `N' nulls (a column no row has a value for).
-spec nulls(non_neg_integer()) -> term().
nulls(N) -> {terms, <<0:(32 * (N + 1))>>, <<>>}.

%% @doc A batch of `Count' rows from finished columns (#{Name => column/2}). A dictionary of one value goes
%% as that constant: no index per row (under a flood most columns are one value, and the batch shrinks by half).
-spec batch(atom(), non_neg_integer(), non_neg_integer(), #{atom() => term()}) -> binary().
batch(Kind, Count, Dropped, Columns) ->
    Cols = maps:map(fun(_, {dict, [V], _}) -> {const, V};
                       (_, C) -> C
                    end, Columns),
    term_to_binary(#{kind => Kind, count => Count, dropped => Dropped, columns => Cols}).

%% @doc A dictionary of element `Pos' of row tuples, for a kind that keeps its rows in its own shape: {Values in
%% index order, each row's index as a binary}. Runs of one value (the common case) cost one comparison a row.
-spec dict_by(pos_integer(), [tuple()]) -> {[term()], binary()}.
dict_by(Pos, Rows) ->
    Map = distinct_at(Pos, Rows, make_ref(), #{}),
    Values = [V || {V, _} <- lists:keysort(2, maps:to_list(Map))],
    Idx = case Values of
              [_] -> <<0:(32 * length(Rows))>>;
              _ -> << <<(map_get(element(Pos, R), Map)):32/little>> || R <- Rows >>
          end,
    {Values, Idx}.

distinct_at(Pos, [R | Rs], Prev, Map) ->
    case element(Pos, R) of
        Prev -> distinct_at(Pos, Rs, Prev, Map);
        V when is_map_key(V, Map) -> distinct_at(Pos, Rs, V, Map);
        V -> distinct_at(Pos, Rs, V, Map#{V => map_size(Map)})
    end;
distinct_at(_, [], _, Map) -> Map.

%% @doc A dictionary column of a value derived from each of a few distinct keys (dict_by/2's Values), given each
%% row's key index: the value is worked out once per key, not once per row.
-spec derive([term()], binary()) -> term().
derive(PerKey, KeyIdx) ->
    {dict, Values, Idx} = column(dict, PerKey),
    case Idx =:= << <<I:32/little>> || I <- lists:seq(0, length(PerKey) - 1) >> of
        true -> {dict, Values, KeyIdx};
        false -> {dict, Values, by_index(list_to_tuple([I || <<I:32/little>> <= Idx]), KeyIdx)}
    end.

%% @doc Each row's value from a tuple of per-key values, as 32-bit integers (a dictionary index, a number).
-spec by_index(tuple(), binary()) -> binary().
by_index({V}, KeyIdx) -> binary:copy(<<V:32/signed-little>>, byte_size(KeyIdx) div 4);
by_index(T, KeyIdx) -> << <<(element(I + 1, T)):32/signed-little>> || <<I:32/little>> <= KeyIdx >>.

%% Pending rows (tuples, newest first) into the columns, column by column: numbers and dictionary indexes
%% in one binary comprehension over the rows each.
fold(_, [], Accs) -> Accs;
fold(Specs, Pending, Accs) ->
    Rows = lists:reverse(Pending),
    Learned = lumin_redact:learned(),
    Accs1 = fold_cols(Specs, 1, Rows, Accs),
    case lumin_redact:learned() of
        Learned -> Accs1;
        %% A secret was found in these rows (a state's `password:'): fold them again, so it is redacted in the
        %% other columns of the same rows too (the message that carried it). Rare: only a new secret does it.
        _ -> fold_cols(Specs, 1, Rows, Accs)
    end.

fold_cols([{_, Kind} | Ks], K, Rows, [Acc | As]) ->
    [col(Kind, K, Rows, Acc) | fold_cols(Ks, K + 1, Rows, As)];
fold_cols([], _, _, []) -> [].

col(f64, K, Rows, Bin) ->
    <<Bin/binary, (<< <<(num(element(K, R))):64/float-little>> || R <- Rows >>)/binary>>;
col(i32, K, Rows, Bin) ->
    <<Bin/binary, (<< <<(int(element(K, R))):32/signed-little>> || R <- Rows >>)/binary>>;
col(dict, K, Rows = [R1 | _], {Map, Next, Idx}) ->
    V1 = element(K, R1),
    case distinct(K, Rows, V1, Map, Next, true) of
        {Map1, Next1, true} ->
            %% One value in all these rows (the common case): its index, repeated.
            {Map1, Next1, <<Idx/binary, (binary:copy(<<(map_get(V1, Map1)):32/little>>, length(Rows)))/binary>>};
        {Map1, Next1, false} ->
            {Map1, Next1, <<Idx/binary, (<< <<(map_get(element(K, R), Map1)):32/little>> || R <- Rows >>)/binary>>}
    end;
col(terms, K, Rows, {Offsets, Data, Off}) ->
    terms([element(K, R) || R <- Rows], Offsets, Data, Off, to_cut());
col({const, _}, _, _, none) -> none.

num(V) when is_number(V) -> V;
num(_) -> 0.

int(V) when is_integer(V) -> V;
int(_) -> 0.

%% The dictionary with the values of column `K' added, and whether they were all one value (`Prev': the
%% last value seen; the first row's value to begin with, added if new).
distinct(K, Rows, Prev, Map, Next, One) when not is_map_key(Prev, Map) ->
    distinct(K, Rows, Prev, Map#{Prev => Next}, Next + 1, One);
distinct(K, [R | Rs], Prev, Map, Next, One) ->
    case element(K, R) of
        Prev -> distinct(K, Rs, Prev, Map, Next, One);
        V -> distinct(K, Rs, V, Map, Next, false)
    end;
distinct(_, [], _, Map, Next, One) -> {Map, Next, One}.

put_all(f64, Vs, Bin) -> f64s(Vs, Bin);
put_all(i32, Vs, Bin) -> i32s(Vs, Bin);
put_all(dict, Vs, {Map, Next, Idx}) -> dict(Vs, make_ref(), 0, Map, Next, Idx);
put_all(terms, Vs, {Offsets, Data, Off}) -> terms(Vs, Offsets, Data, Off, to_cut());
put_all({const, _}, _, none) -> none.

f64s([V | Vs], B) when is_number(V) -> f64s(Vs, <<B/binary, V:64/float-little>>);
f64s([_ | Vs], B) -> f64s(Vs, <<B/binary, 0:64/float-little>>);
f64s([], B) -> B.

i32s([V | Vs], B) when is_integer(V) -> i32s(Vs, <<B/binary, V:32/signed-little>>);
i32s([_ | Vs], B) -> i32s(Vs, <<B/binary, 0:32/signed-little>>);
i32s([], B) -> B.

%% `Prev' and `PrevI': the last value and its index (runs of one value are the common case).
dict([V | Vs], V, I, Map, Next, Idx) -> dict(Vs, V, I, Map, Next, <<Idx/binary, I:32/little>>);
dict([V | Vs], _, _, Map, Next, Idx) ->
    case Map of
        #{V := I} -> dict(Vs, V, I, Map, Next, <<Idx/binary, I:32/little>>);
        _ -> dict(Vs, V, Next, Map#{V => Next}, Next + 1, <<Idx/binary, Next:32/little>>)
    end;
dict([], _, _, Map, Next, Idx) -> {Map, Next, Idx}.

%% `Cut': whether values still have to be cut and redacted before they are encoded ({cut, Max, Redact, Clean}),
%% only redacted ({redact, Redact}), or neither (`redacted'); Redact is lumin_redact:redactor/0's, one per column.
terms([undefined | Vs], Offsets, Data, Off, Cut) ->
    terms(Vs, <<Offsets/binary, Off:32/little>>, Data, Off, Cut);
terms([V | Vs], Offsets, Data, Off, Cut) when is_integer(V), V >= 0, V =< 255 ->
    terms(Vs, <<Offsets/binary, (Off + 3):32/little>>, <<Data/binary, 131, 97, V>>, Off + 3, Cut);
terms([V | Vs], Offsets, Data, Off, Cut) when is_integer(V), V >= -16#80000000, V =< 16#7fffffff ->
    terms(Vs, <<Offsets/binary, (Off + 6):32/little>>, <<Data/binary, 131, 98, V:32/signed>>, Off + 6, Cut);
%% (Values given to column(cut_terms, _) are never pre-encoded: a traced function may well return a
%% `{lumin_raw, Bin}' of its own.)
terms([{lumin_raw, Bin} | Vs], Offsets, Data, Off, Cut = {cut, _, _, _}) when is_binary(Bin) ->
    Off1 = Off + byte_size(Bin),
    terms(Vs, <<Offsets/binary, Off1:32/little>>, <<Data/binary, Bin/binary>>, Off1, Cut);
%% A small tree of tuples whose leaves are atoms and immediates ({tag, N} as a flood sends, a gen_server's
%% {'$gen_cast', {n, 12}}) is cut or redacted by its shape alone: its size, and whether it holds a secret (a
%% secret key's pair, a record's secret field, at any depth; no such leaf is a remembered secret value), depend
%% only on its tuples' sizes and its atoms (lumin_lib:same_shape/2). After one came out of redaction unchanged and
%% well under the cut size, the next of the same shape is encoded without a look.
terms([V | Vs], Offsets, Data, Off, Cut = {cut, _, _, Clean}) when is_tuple(V), is_tuple(Clean) ->
    case lumin_lib:same_shape(V, Clean) of
        true -> encoded(term_to_binary(V), Vs, Offsets, Data, Off, Cut);
        false -> terms_cut(V, Vs, Offsets, Data, Off, Cut)
    end;
terms([V | Vs], Offsets, Data, Off, Cut = {cut, _, _, _}) -> terms_cut(V, Vs, Offsets, Data, Off, Cut);
terms([V | Vs], Offsets, Data, Off, Cut) ->
    Bin = case Cut of
              {redact, Redact} -> term_to_binary(Redact(V));
              redacted -> term_to_binary(V)
          end,
    encoded(Bin, Vs, Offsets, Data, Off, Cut);
terms([], Offsets, Data, Off, _) -> {Offsets, Data, Off}.

terms_cut(V, Vs, Offsets, Data, Off, Cut = {cut, Max, Redact, _}) ->
    V1 = Redact(lumin_lib:cut(V, Max)),
    Cut1 = case is_tuple(V) andalso lumin_lib:plain(V) andalso lumin_lib:fits(V, Max div 4)
                andalso lumin_redact:clean_small(V) of
               true -> setelement(4, Cut, V);
               false -> Cut
           end,
    encoded(term_to_binary(V1), Vs, Offsets, Data, Off, Cut1).

encoded(Bin, Vs, Offsets, Data, Off, Cut) ->
    Off1 = Off + byte_size(Bin),
    terms(Vs, <<Offsets/binary, Off1:32/little>>, <<Data/binary, Bin/binary>>, Off1, Cut).

%% How a column's terms are cut and redacted: the cut size looked up once, the policy once (lumin_redact:redactor/0).
to_cut() -> {cut, cut_size(), lumin_redact:redactor(), none}.

%% The number of values when all are `undefined' (a column of nulls), else false.
all_undefined([undefined | Vs], N) -> all_undefined(Vs, N + 1);
all_undefined([], N) -> N;
all_undefined(_, _) -> false.

finish(f64, Bin) -> {f64, Bin};
finish(i32, Bin) -> {i32, Bin};
finish(dict, {Map, _, Idx}) ->
    Values = [V || {V, _} <- lists:keysort(2, maps:to_list(Map))],
    {dict, Values, Idx};
finish(terms, {Offsets, Data, _}) -> {terms, Offsets, Data};
finish({const, V}, none) -> {const, V}.

%% @doc A cell of a terms column (of a builder's row) that is present even when its term is the atom `undefined'
%% (which a terms column reads as null). Only that atom, and a term that looks like an encoded cell, are encoded
%% here and now; any other term stays as it is, to be cut, redacted and encoded with its column, in bulk.
-spec present(term()) -> term().
present(V) when V =:= undefined; tuple_size(V) =:= 2, element(1, V) =:= lumin_raw -> {lumin_raw, term_to_binary(cut_term(V))};
present(V) -> V.

%% @doc A term small enough to keep, or `{lumin_cut, Bytes, Prefix}' where Prefix shows its start (lumin_lib:cut/2),
%% with its secrets redacted (lumin_redact:term/1): what may leave the node.
%% The size is the calling probe's cut size (`$lumin_cut' in its dictionary) or lumin_budget:max_term_bytes/0.
-spec cut_term(term()) -> term().
cut_term(T) -> lumin_redact:term(cut_only(T)).

cut_only(T) -> lumin_lib:cut(T, cut_size()).

cut_size() ->
    case get('$lumin_cut') of
        N when is_integer(N) -> N;
        _ -> lumin_budget:max_term_bytes()
    end.

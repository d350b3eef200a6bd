%% @doc What changed between two versions of a state, as a list of changes at paths: into maps by key, tuples
%% (records) by position, lists by position (an element put in or taken out, or the rest from where they part),
%% and anything else as one change. A state probe runs it in the watched process, once per message, between
%% the state before and after, so that a 40 MB state is shipped as the few values that changed.
%%
%% What keeps it cheap there: a new state shares the parts a callback did not touch with the old one, and
%% `=:=' on two shared terms is one pointer compare, so only the changed branches are walked. The walk is
%% bounded all the same: at most ?STEPS elements are looked at (a subtree left when they are spent is one
%% change), at most ?MAX_CHANGES changes are listed (past that the caller ships the state instead), and every
%% value in a change is cut to the caller's cut size (lumin_lib:cut/2, O(cut)).
-module(lumin_state_diff).
-export([changes/3, changes/4, text/3, path_text/1, redact/2]).

-export_type([change/0, path/0]).

%% A step of a path: a map key, a tuple position (from 1, as --path counts them) with the record it is in (its
%% tag and size, for redaction: none for a tuple that is no record or is too big), a list position (from 1).
-type step() :: {key, term()} | {pos, pos_integer(), atom() | none, non_neg_integer()} | {nth, pos_integer()}.
-type path() :: [step()].
%% `{from, ...}': a list's elements from that position on, when the walk stopped there (its budget spent, or
%% the lists part for more than one element).
%% `{map, ...}': a map too big to compare key by key within the steps left, by its sizes before and after.
-type change() :: {changed, path(), term(), term()} | {added, path(), term()} | {removed, path(), term()}
                | {from, path(), term(), term()} | {map, path(), non_neg_integer(), non_neg_integer()}.

-define(STEPS, 20000).
-define(CUT(T), (tuple_size(T) =:= 3 andalso element(1, T) =:= lumin_cut andalso is_integer(element(2, T)))).
-define(MAX_CHANGES, 32).
%% A change's value printed in text, at most (characters), and the changes printed, at most.
-define(TEXT_TERM, 120).
-define(TEXT_CHANGES, 8).

%% @doc The changes from `Old' to `New', values cut to `Cut' bytes, in walk order; `too_many' past
%% ?MAX_CHANGES of them.
-spec changes(term(), term(), pos_integer()) -> {ok, [change()]} | too_many.
changes(Old, New, Cut) -> changes(Old, New, Cut, #{}).

%% Options: `steps' and `max_changes' (tests use small ones).
-spec changes(term(), term(), pos_integer(), map()) -> {ok, [change()]} | too_many.
changes(Old, New, Cut, Opts) ->
    Max = maps:get(max_changes, Opts, ?MAX_CHANGES),
    try d([], Old, New, {[], 0, maps:get(steps, Opts, ?STEPS), Cut, Max}) of
        {Acc, _, _, _, _} -> {ok, lists:reverse(Acc)}
    catch throw:lumin_too_many -> too_many
    end.

%% The walk's accumulator: {Changes (reversed), Count, Steps left, Cut, Max changes}. Paths are built reversed.
d(_, Same, Same, S) -> S;
d(P, A, B, S = {_, _, Steps, _, _}) when Steps =< 0 -> add({changed, P, A, B}, S);
%% A value cut before it got here (a view's cut marker, lumin_lib:cut/2) is one change: its prefix is no part
%% of the state.
d(P, A, B, S) when ?CUT(A); ?CUT(B) -> add({changed, P, A, B}, S);
d(P, A, B, S = {_, _, Steps, _, _}) when is_map(A), is_map(B), map_size(A) + map_size(B) =< Steps ->
    S1 = in_new(P, A, maps:next(maps:iterator(B)), step(S, 1)),
    only_old(P, B, maps:next(maps:iterator(A)), S1);
d(P, A, B, S) when is_map(A), is_map(B) -> add({map, P, map_size(A), map_size(B)}, S);
d(P, A, B, S = {_, _, Steps, _, _}) when is_tuple(A), is_tuple(B), tuple_size(A) =:= tuple_size(B), tuple_size(A) =< Steps ->
    positions(P, A, B, 1, tuple_size(A), record(A, B), step(S, 1));
d(P, A, B, S) when is_list(A), is_list(B), A =/= [], B =/= [] ->
    nth(P, A, B, 1, S);
d(P, A, B, S) -> add({changed, P, A, B}, S).

%% Keys of the new map: changed or added.
in_new(_, _, none, S) -> S;
in_new(P, A, {K, VB, I}, S) ->
    S1 = case A of
             #{K := VA} -> d([{key, K} | P], VA, VB, step(S, 1));
             _ -> add({added, [{key, K} | P], VB}, step(S, 1))
         end,
    in_new(P, A, maps:next(I), S1).

%% Keys only the old map had: removed.
only_old(_, _, none, S) -> S;
only_old(P, B, {K, VA, I}, S) ->
    S1 = case is_map_key(K, B) of
             true -> step(S, 1);
             false -> add({removed, [{key, K} | P], VA}, step(S, 1))
         end,
    only_old(P, B, maps:next(I), S1).

positions(_, _, _, I, N, _, S) when I > N -> S;
positions(P, A, B, I, N, R, S) ->
    positions(P, A, B, I + 1, N, R, d([{pos, I, R, N} | P], element(I, A), element(I, B), step(S, 1))).

%% The record two tuples are (same tag), for redaction; none for others and for big ones.
-define(RECORD_MAX, 256).
record(A, B) when tuple_size(A) =< ?RECORD_MAX, is_atom(element(1, A)), element(1, A) =:= element(1, B) -> element(1, A);
record(_, _) -> none.

%% Lists side by side. Where they part: one element put in (the rest of the new list is the old one from
%% there), one taken out, or a changed element (walked into) and on; a list ending first leaves the other's
%% rest as added or removed.
nth(_, Same, Same, _, S) -> S;
nth(P, A, B, I, S = {_, _, Steps, _, _}) when Steps =< 0 -> add({from, [{nth, I} | P], A, B}, S);
nth(P, [X | As], [X | Bs], I, S) -> nth(P, As, Bs, I + 1, step(S, 1));
nth(P, A = [X | As], B = [Y | Bs], I, S) ->
    if
        Bs =:= A -> add({added, [{nth, I} | P], Y}, S);
        As =:= B -> add({removed, [{nth, I} | P], X}, S);
        true -> nth(P, As, Bs, I + 1, d([{nth, I} | P], X, Y, step(S, 1)))
    end;
nth(P, [], B, I, S) when is_list(B) -> add({added, [{nth, I} | P], B}, S);
nth(P, A, [], I, S) when is_list(A) -> add({removed, [{nth, I} | P], A}, S);
%% An improper tail.
nth(P, A, B, I, S) -> add({from, [{nth, I} | P], A, B}, S).

step({Acc, N, Steps, Cut, Max}, K) -> {Acc, N, Steps - K, Cut, Max}.

add(_, {_, N, _, _, Max}) when N >= Max -> throw(lumin_too_many);
add(C, {Acc, N, Steps, Cut, Max}) -> {[cut(C, Cut) | Acc], N + 1, Steps, Cut, Max}.

%% Paths are kept reversed while walking; a change leaves with its path in order and its values cut (a key is
%% cut too: a map may be keyed by big terms).
cut({changed, P, A, B}, Cut) -> {changed, path(P, Cut), lumin_lib:cut(A, Cut), lumin_lib:cut(B, Cut)};
cut({from, P, A, B}, Cut) -> {from, path(P, Cut), lumin_lib:cut(A, Cut), lumin_lib:cut(B, Cut)};
cut({added, P, B}, Cut) -> {added, path(P, Cut), lumin_lib:cut(B, Cut)};
cut({removed, P, A}, Cut) -> {removed, path(P, Cut), lumin_lib:cut(A, Cut)};
cut({map, P, NA, NB}, Cut) -> {map, path(P, Cut), NA, NB}.

path(P, Cut) -> lists:reverse([case S of {key, K} -> {key, lumin_lib:cut(K, Cut)}; _ -> S end || S <- P]).

%% ---- redaction ---------------------------------------------------------------------------------------------

%% @doc Changes with what the redaction policy hides taken out (lumin_redact), as it would be in the whole
%% state: each value is redacted inside the keys, records and lists of its path (`Root' first: the --path's keys,
%% as text), so a value under a secret key (`creds.password'), in a record's secret field, or remembered as a
%% secret elsewhere, reads `[redacted]'. Run in the probe's process, off the watched one.
-spec redact([change()], [binary()]) -> [change()].
redact(Changes, Root) ->
    R = [{key, K} || K <- Root],
    [case C of
         {changed, P, A, B} -> {changed, P, hide(R ++ P, A), hide(R ++ P, B)};
         {from, P, A, B} -> {from, P, hide(R ++ P, A), hide(R ++ P, B)};
         {added, P, B} -> {added, P, hide(R ++ P, B)};
         {removed, P, A} -> {removed, P, hide(R ++ P, A)};
         {map, _, _, _} -> C
     end || C <- Changes].

hide(Path, V) -> unwrap(Path, lumin_redact:term(wrap(lists:reverse(Path), V))).

wrap([], V) -> V;
wrap([{key, K} | Rest], V) -> wrap(Rest, #{K => V});
wrap([{pos, I, Tag, N} | Rest], V) when is_atom(Tag), Tag =/= none -> wrap(Rest, erlang:make_tuple(N, undefined, [{1, Tag}, {I, V}]));
wrap([{pos, _, _, _} | Rest], V) -> wrap(Rest, {V});
wrap([{nth, _} | Rest], V) -> wrap(Rest, [V]).

%% Back down the same path; a step that is no longer there (a part above was redacted whole) gives the marker.
unwrap([], V) -> V;
unwrap([{key, K} | Rest], M) when is_map(M), is_map_key(K, M) -> unwrap(Rest, map_get(K, M));
unwrap([{pos, I, Tag, N} | Rest], T) when is_atom(Tag), Tag =/= none, tuple_size(T) =:= N -> unwrap(Rest, element(I, T));
unwrap([{pos, _, Tag, _} | Rest], {V}) when not is_atom(Tag); Tag =:= none -> unwrap(Rest, V);
unwrap([{nth, _} | Rest], [V]) -> unwrap(Rest, V);
unwrap(_, _) -> lumin_redact:marker().

%% ---- as text ----------------------------------------------------------------------------------------------

%% @doc Changes as one readable line in the node's language (`elixir' or `erlang'):
%% `queue.len: 3 → 4; queue.last: nil → 7', at most ?TEXT_CHANGES of them then `… and N more'. `Root' names
%% the state itself (a change at the empty path) and goes before every path when given (a --path).
-spec text([change()], elixir | erlang, binary()) -> binary().
text([], _, _) -> <<"(unchanged)">>;
text(Changes, Syntax, Root) ->
    Shown = [line(C, Syntax, Root) || C <- lists:sublist(Changes, ?TEXT_CHANGES)],
    More = case length(Changes) - ?TEXT_CHANGES of
               N when N > 0 -> [io_lib:format("… and ~b more", [N])];
               _ -> []
           end,
    unicode:characters_to_binary(lists:join("; ", Shown ++ More)).

line({changed, P, A, B}, Sx, Root) -> [where(P, Sx, Root), ": ", show(A, Sx), " → ", show(B, Sx)];
line({from, P, A, B}, Sx, Root) -> [where(P, Sx, Root), " on: ", show(A, Sx), " → ", show(B, Sx)];
line({added, P, B}, Sx, Root) -> [where(P, Sx, Root), ": added ", show(B, Sx)];
line({removed, P, A}, Sx, Root) -> [where(P, Sx, Root), ": removed ", show(A, Sx)];
line({map, P, NA, NB}, Sx, Root) ->
    [where(P, Sx, Root), ": changed, a map of ", integer_to_list(NA), " keys → ", integer_to_list(NB),
     " (too big to compare key by key)"].

where([], _, <<>>) -> "state";
where(P, Sx, Root) ->
    case [Root | steps(P, Sx)] of
        [<<>>, <<".", T/binary>> | Rest] -> [T | Rest];
        [<<>> | Rest] -> Rest;
        All -> All
    end.

%% @doc A path as --path writes it: `queue.len', `items[\"a\"]', `workers.2[3]' (text, Erlang syntax).
-spec path_text(path()) -> binary().
path_text(P) -> iolist_to_binary(where(P, erlang, <<>>)).

steps(P, Sx) -> [iolist_to_binary(s(S, Sx)) || S <- P].

s({key, K}, _) when is_atom(K) -> [".", atom_to_binary(K, utf8)];
s({key, K}, Sx) -> ["[", show(K, Sx), "]"];
s({pos, I, _, _}, _) -> [".", integer_to_list(I)];
s({nth, I}, _) -> ["[", integer_to_list(I), "]"].

%% A value as the node's language prints it; a cut one as its start and `…(N bytes cut)'.
show({lumin_cut, Bytes, Prefix}, Sx) when is_integer(Bytes) ->
    [clip(format(Sx, Prefix)), "…(", integer_to_list(Bytes), " bytes cut)"];
show(T, Sx) -> clip(format(Sx, T)).

clip(Text) ->
    case string:length(Text) > ?TEXT_TERM of
        true -> [string:slice(Text, 0, ?TEXT_TERM - 1), "…"];
        false -> Text
    end.

%% (An integer prints alike in both languages: no formatter for the common counter or length.)
format(_, T) when is_integer(T) -> integer_to_binary(T);
format(elixir, T) ->
    case erlang:function_exported('Elixir.Kernel', inspect, 2) of
        %% (a struct's own Inspect implementation is the application's code: one that raises leaves the term as
        %% Erlang prints it, and the probe going)
        true -> try 'Elixir.Kernel':inspect(T, [{limit, 20}, {printable_limit, 200}])
                catch _:_ -> format(erlang, T)
                end;
        false -> format(erlang, T)
    end;
format(erlang, T) -> unicode:characters_to_binary(io_lib:format("~0tP", [T, 20])).

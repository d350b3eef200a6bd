%% @doc How a `--summary' probe's interval crosses the network: every function's sketch of one interval, from one
%% node, packed into one binary (the `sketches' field of a `probe_sketches' event). The kernel reads it with typed
%% arrays, without a term or an object per function or per bucket (kernel/analysis/packedSketches.ts reads and
%% writes the same layout; a test on each side checks the same bytes).
%%
%% Layout (integers are unsigned LEB128 varints unless said otherwise; floats are IEEE 754 doubles, little-endian):
%%
%%   version (one byte, 1) · function count · names size (bytes) · names · one record per function, in the
%%   order of the names
%%   name:   module size (16 bits, little-endian) · module (UTF-8) · function size (16 bits) · function · arity (8 bits)
%%   record: calls (the function's exact calls in the interval, lumin_sampler's) · count (the calls that fed
%%           the sketch) · errors · zero bucket's count · sum_us (double) · min_us (double) · max_us (double) ·
%%           first bucket's index (zigzag: 0, -1, 1, -2 … as 0, 1, 2, 3 …) · span (last index - first + 1; 0 when
%%           every value is in the zero bucket) · then the counts of buckets first … last in order, where a 0
%%           is followed by how many empty buckets are skipped there.
%%
%% The names come first and whole, so a kernel that saw the same functions from this node last interval compares
%% bytes and reads no text. A bucket costs one byte while its count is under 128 (two under 16,384), an empty run
%% two: against the 8 bytes a bucket of `lumin_sketch' pairs, a 2,000-call interval of a log-normal latency
%% packs to under a fifth of that.
-module(lumin_summary_wire).
-export([pack/1, unpack/1, version/0]).

-define(VERSION, 1).

version() -> ?VERSION.

%% @doc One interval's sketches as the binary the kernel reads: `Fns' is [{{Module, Function, Arity}, Sketch,
%% Errors, Calls}].
-spec pack([{{atom(), atom(), non_neg_integer()}, lumin_sketch:sketch(), non_neg_integer(), non_neg_integer()}]) -> binary().
pack(Fns) ->
    Names = iolist_to_binary([name(MFA) || {MFA, _, _, _} <- Fns]),
    iolist_to_binary([?VERSION, uv(length(Fns)), uv(byte_size(Names)), Names | [record(Sk, E, C) || {_, Sk, E, C} <- Fns]]).

name({M, F, A}) ->
    MB = atom_to_binary(M, utf8),
    FB = atom_to_binary(F, utf8),
    <<(byte_size(MB)):16/little, MB/binary, (byte_size(FB)):16/little, FB/binary, A:8>>.

record(Sk, Errors, Calls) ->
    Bins = lumin_sketch:bins(Sk),
    {First, Span} = case Bins of
                        [] -> {0, 0};
                        [{I0, _} | _] -> {I0, element(1, lists:last(Bins)) - I0 + 1}
                    end,
    [uv(Calls), uv(lumin_sketch:count(Sk)), uv(Errors), uv(lumin_sketch:zero(Sk)),
     <<(float(lumin_sketch:sum(Sk))):64/float-little, (num(lumin_sketch:min(Sk))):64/float-little,
       (num(lumin_sketch:max(Sk))):64/float-little>>,
     uv(zigzag(First)), uv(Span) | counts(Bins, First - 1)].

%% A sketch with no value has no min or max: 0.0 (its count says it is empty).
num(undefined) -> 0.0;
num(X) -> float(X).

counts([], _) -> [];
counts([{I, C} | Rest], Prev) when I =:= Prev + 1 -> [uv(C) | counts(Rest, I)];
counts([{I, C} | Rest], Prev) -> [0, uv(I - Prev - 1), uv(C) | counts(Rest, I)].

zigzag(N) when N >= 0 -> 2 * N;
zigzag(N) -> -2 * N - 1.

unzigzag(Z) when Z band 1 =:= 0 -> Z bsr 1;
unzigzag(Z) -> -((Z + 1) bsr 1).

uv(N) when N < 128 -> N;
uv(N) -> [128 bor (N band 127), uv(N bsr 7)].

%% @doc The binary read back (tests; the kernel has its own reader): per function, its name and sketch of
%% relative accuracy `Alpha', and its errors.
-spec unpack(binary()) -> {ok, [{{binary(), binary(), non_neg_integer()}, #{atom() => term()}}]} | {error, term()}.
unpack(<<?VERSION, Rest0/binary>>) ->
    {N, Rest1} = ruv(Rest0),
    {Size, Rest2} = ruv(Rest1),
    <<Names:Size/binary, Records/binary>> = Rest2,
    MFAs = names(Names),
    N =:= length(MFAs) orelse error(badarg),
    {Fns, <<>>} = lists:mapfoldl(fun(MFA, B) -> {R, B1} = unrecord(B), {{MFA, R}, B1} end, Records, MFAs),
    {ok, Fns};
unpack(<<V, _/binary>>) -> {error, {version, V}};
unpack(_) -> {error, empty}.

names(<<>>) -> [];
names(<<ML:16/little, M:ML/binary, FL:16/little, F:FL/binary, A:8, Rest/binary>>) -> [{M, F, A} | names(Rest)].

unrecord(Bc) ->
    {Calls, B0} = ruv(Bc),
    {Count, B1} = ruv(B0),
    {Errors, B2} = ruv(B1),
    {Zero, B3} = ruv(B2),
    <<Sum:64/float-little, Min:64/float-little, Max:64/float-little, B4/binary>> = B3,
    {ZFirst, B5} = ruv(B4),
    {Span, B6} = ruv(B5),
    First = unzigzag(ZFirst),
    {Bins, B7} = rcounts(B6, First, First + Span, []),
    {#{calls => Calls, count => Count, errors => Errors, zero => Zero, sum_us => Sum, min_us => Min, max_us => Max, bins => Bins}, B7}.

rcounts(B, I, End, Acc) when I >= End -> {lists:reverse(Acc), B};
rcounts(<<0, B0/binary>>, I, End, Acc) ->
    {Skip, B1} = ruv(B0),
    rcounts(B1, I + Skip, End, Acc);
rcounts(B0, I, End, Acc) ->
    {C, B1} = ruv(B0),
    rcounts(B1, I + 1, End, [{I, C} | Acc]).

ruv(B) -> ruv(B, 0, 0).
ruv(<<1:1, X:7, Rest/binary>>, Shift, Acc) -> ruv(Rest, Shift + 7, Acc bor (X bsl Shift));
ruv(<<0:1, X:7, Rest/binary>>, Shift, Acc) -> {Acc bor (X bsl Shift), Rest}.

%% @doc A mergeable latency sketch with a stated relative error and a fixed memory bound: a log-bucketed
%% histogram in the manner of DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile
%% sketch with relative-error guarantees", VLDB 2019), in plain Erlang, with no state outside the term.
%%
%% How it works. With relative accuracy `Alpha' (0.01 = 1%), gamma = (1 + Alpha) / (1 - Alpha); a value x > 0
%% goes to bucket i = ceil(log_gamma(x)), which holds the values in (gamma^(i-1), gamma^i]. A quantile is read
%% as the bucket holding that rank and estimated as 2 * gamma^i / (gamma + 1): for every value of that bucket,
%% |estimate - x| <= Alpha * x. So a quantile estimate is within Alpha (relative) of the value of that rank
%% (the rank taken as the value at position floor(Q * (N - 1)) in sorted order).
%%
%% Memory bound. At most `MaxBins' buckets are kept (default 1024; at 1% that spans gamma^1024 ≈ 8e8, e.g.
%% 1 µs to 13 minutes); past it the lowest buckets are folded into the lowest one kept ("collapsing lowest"),
%% so only the smallest values lose their guarantee — the high quantiles an SRE reads keep it. Values at or
%% below `min_value()' (1 ns, in µs) are counted apart in a zero bucket. Two sketches of the same accuracy
%% merge exactly: the merge of the sketches of two sets is the sketch of their union (count per bucket added).
%%
%% Besides the buckets: count, sum, min and max, exact.
-module(lumin_sketch).
-export([new/0, new/1, new/2, add/2, merge/2, quantile/2, count/1, sum/1, max/1, min/1, alpha/1,
         zero/1, from_bins/4, bins/1, min_value/0, default_alpha/0, default_max_bins/0, index/2, estimate/2]).

-record(sketch, {alpha :: float(), inv_ln_gamma :: float(), max_bins :: pos_integer(), zero = 0 :: non_neg_integer(),
                 bins = #{} :: #{integer() => pos_integer()}, n = 0 :: non_neg_integer(), sum = 0.0 :: float(),
                 min = undefined :: undefined | number(), max = undefined :: undefined | number()}).
-opaque sketch() :: #sketch{}.
-export_type([sketch/0]).

%% @doc The relative accuracy used unless asked otherwise: 1%.
default_alpha() -> 0.01.
%% @doc Buckets kept at most unless asked otherwise.
default_max_bins() -> 1024.
%% @doc Values at or below this (in the unit of the values: µs here, so 1 ns) go to the zero bucket.
min_value() -> 0.001.

new() -> new(default_alpha(), default_max_bins()).
new(Alpha) -> new(Alpha, default_max_bins()).

-spec new(float(), pos_integer()) -> sketch().
new(Alpha, MaxBins) when is_float(Alpha), Alpha > 0, Alpha < 1, is_integer(MaxBins), MaxBins > 1 ->
    #sketch{alpha = Alpha, inv_ln_gamma = 1 / math:log((1 + Alpha) / (1 - Alpha)), max_bins = MaxBins}.

%% @doc The bucket of value `X' (> min_value()) at this accuracy.
index(X, #sketch{inv_ln_gamma = Inv}) -> ceil_int(math:log(X) * Inv).

%% @doc The estimate of bucket `I': 2 gamma^I / (gamma + 1), within Alpha of every value in it.
estimate(I, #sketch{alpha = A}) ->
    Gamma = (1 + A) / (1 - A),
    2 * math:pow(Gamma, I) / (Gamma + 1).

%% @doc Add one value (a duration in µs).
-spec add(sketch(), number()) -> sketch().
add(S = #sketch{n = N, sum = Sum, min = Mn, max = Mx, zero = Z}, X) when X =< 0.001 ->
    S#sketch{zero = Z + 1, n = N + 1, sum = Sum + X, min = lo(Mn, X), max = hi(Mx, X)};
add(S = #sketch{inv_ln_gamma = Inv, bins = Bins, n = N, sum = Sum, min = Mn, max = Mx, max_bins = MaxB}, X) ->
    I = ceil_int(math:log(X) * Inv),
    S1 = S#sketch{n = N + 1, sum = Sum + X, min = lo(Mn, X), max = hi(Mx, X)},
    case Bins of
        #{I := C} -> S1#sketch{bins = Bins#{I := C + 1}};
        _ when map_size(Bins) < MaxB -> S1#sketch{bins = Bins#{I => 1}};
        _ -> collapse(S1#sketch{bins = Bins#{I => 1}})
    end.

%% @doc The sketch of the union of two sets, from their sketches (same accuracy).
-spec merge(sketch(), sketch()) -> sketch().
merge(A = #sketch{alpha = Al, bins = BA, zero = ZA, n = NA, sum = SA, min = MnA, max = MxA},
      #sketch{alpha = Al, bins = BB, zero = ZB, n = NB, sum = SB, min = MnB, max = MxB}) ->
    Bins = maps:fold(fun(I, C, Acc) -> maps:update_with(I, fun(X) -> X + C end, C, Acc) end, BA, BB),
    collapse(A#sketch{bins = Bins, zero = ZA + ZB, n = NA + NB, sum = SA + SB,
                      min = lo(lo(MnA, MnB), undefined), max = hi(MxA, MxB)}).

%% @doc The value at quantile Q (0..1): the estimate of the bucket holding rank floor(Q * (N - 1)); undefined
%% when empty. The exact minimum and maximum are returned for Q = 0 and Q = 1.
-spec quantile(sketch(), float()) -> float() | undefined.
quantile(#sketch{n = 0}, _) -> undefined;
quantile(#sketch{min = Mn}, Q) when Q =< 0 -> float(Mn);
quantile(#sketch{max = Mx}, Q) when Q >= 1 -> float(Mx);
quantile(S = #sketch{n = N, zero = Z, bins = Bins}, Q) ->
    Rank = trunc(Q * (N - 1)),
    case Rank < Z of
        true -> 0.0;
        false -> walk(lists:sort(maps:to_list(Bins)), Rank - Z, S)
    end.

walk([{I, C} | _], Rank, S) when Rank < C -> estimate(I, S);
walk([{_, C} | Rest], Rank, S) -> walk(Rest, Rank - C, S);
walk([], _, #sketch{max = Mx}) -> float(Mx).

count(#sketch{n = N}) -> N.
sum(#sketch{sum = S}) -> S.
max(#sketch{max = M}) -> M.
min(#sketch{min = M}) -> M.
alpha(#sketch{alpha = A}) -> A.

%% @doc The buckets, lowest first, as {Index, Count}; the zero bucket is not among them (see zero/1).
bins(#sketch{bins = B}) -> lists:sort(maps:to_list(B)).

%% @doc How many values are in the zero bucket (at or below min_value()).
zero(#sketch{zero = Z}) -> Z.

%% @doc A sketch from its buckets (as bins/1 gives them), its zero bucket and its exact figures {N, Sum, Min, Max}:
%% what crosses the network (lumin_summary_wire) read back, for tests and merging on a node.
from_bins(Alpha, Zero, Bins, {N, Sum, Mn, Mx}) ->
    S = new(Alpha),
    collapse(S#sketch{zero = Zero, bins = maps:from_list(Bins), n = N, sum = float(Sum), min = Mn, max = Mx}).

%% ---- internals -------------------------------------------------------------------------------------

%% Past the bound, the lowest buckets fold into the lowest one kept.
collapse(S = #sketch{bins = Bins, max_bins = MaxB}) when map_size(Bins) =< MaxB -> S;
collapse(S = #sketch{bins = Bins, max_bins = MaxB}) ->
    Sorted = lists:sort(maps:to_list(Bins)),
    {Low, Keep} = lists:split(map_size(Bins) - MaxB + 1, Sorted),
    [{I, C} | Rest] = Keep,
    Folded = lists:sum([X || {_, X} <- Low]),
    S#sketch{bins = maps:from_list([{I, C + Folded} | Rest])}.

ceil_int(X) ->
    T = trunc(X),
    case X > T of
        true -> T + 1;
        false -> T
    end.

lo(undefined, X) -> X;
lo(X, undefined) -> X;
lo(A, B) -> erlang:min(A, B).

hi(undefined, X) -> X;
hi(X, undefined) -> X;
hi(A, B) -> erlang:max(A, B).

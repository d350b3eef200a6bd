defmodule LuminSketchTest do
  # Properties of the latency sketch, each checked over many random data sets (seeded, so a failure repeats):
  # every quantile within the stated relative error of the exact value of that rank, merging equal to
  # sketching the union, the memory bound held, and what crosses the network read back the same.
  use ExUnit.Case, async: true

  @qs [0.5, 0.9, 0.99, 0.999]

  defp seed(n), do: :rand.seed(:exsss, {n, n * 7 + 1, n * 13 + 5})

  # Durations in µs from a few shapes a latency has: uniform, log-normal (a long tail), two modes, a spike.
  defp sample(:uniform, n), do: for(_ <- 1..n, do: 1 + :rand.uniform() * 5000)
  defp sample(:lognormal, n), do: for(_ <- 1..n, do: :math.exp(5 + 1.5 * :rand.normal()))
  defp sample(:bimodal, n), do: for(_ <- 1..n, do: if(:rand.uniform() < 0.9, do: 100 + :rand.uniform() * 20, else: 20_000 + :rand.uniform() * 5000))
  defp sample(:spike, n), do: for(i <- 1..n, do: if(rem(i, 1000) == 0, do: 1.0e6, else: 3.0 + :rand.uniform()))

  defp sketch(values, alpha \\ 0.01, bins \\ 1024),
    do: Enum.reduce(values, :lumin_sketch.new(alpha, bins), &:lumin_sketch.add(&2, &1))

  defp exact(sorted, q), do: Enum.at(sorted, trunc(q * (length(sorted) - 1)))

  test "every quantile is within the stated relative error of the exact value of that rank" do
    for alpha <- [0.01, 0.02, 0.05], shape <- [:uniform, :lognormal, :bimodal, :spike], run <- 1..5 do
      seed(run)
      values = sample(shape, 1000 + run * 997)
      sk = sketch(values, alpha)
      sorted = Enum.sort(values)
      for q <- @qs do
        want = exact(sorted, q)
        got = :lumin_sketch.quantile(sk, q)
        assert abs(got - want) <= alpha * want * (1 + 1.0e-9), "#{shape} run #{run} alpha #{alpha} q #{q}: #{got} vs #{want}"
      end
      assert :lumin_sketch.count(sk) == length(values)
      assert :lumin_sketch.max(sk) == Enum.max(values)
      assert :lumin_sketch.min(sk) == Enum.min(values)
      assert_in_delta :lumin_sketch.sum(sk), Enum.sum(values), 1.0e-6 * Enum.sum(values)
    end
  end

  test "merging sketches is sketching the union, whatever the split and order" do
    for run <- 1..20 do
      seed(100 + run)
      parts = for shape <- Enum.take_random([:uniform, :lognormal, :bimodal, :spike], 3), do: sample(shape, 300 + :rand.uniform(3000))
      merged = parts |> Enum.map(&sketch/1) |> Enum.shuffle() |> Enum.reduce(&:lumin_sketch.merge/2)
      whole = sketch(Enum.concat(parts))
      assert :lumin_sketch.bins(merged) == :lumin_sketch.bins(whole)
      assert :lumin_sketch.count(merged) == :lumin_sketch.count(whole)
      assert :lumin_sketch.max(merged) == :lumin_sketch.max(whole)
      assert :lumin_sketch.min(merged) == :lumin_sketch.min(whole)
      sorted = Enum.sort(Enum.concat(parts))
      for q <- @qs, do: assert(abs(:lumin_sketch.quantile(merged, q) - exact(sorted, q)) <= 0.01 * exact(sorted, q) * (1 + 1.0e-9))
    end
  end

  test "memory is bounded: past the bound only the lowest values lose their guarantee" do
    seed(7)
    # 1 ns .. 1000 s: more buckets than allowed at 1%.
    values = for _ <- 1..50_000, do: :math.pow(10, -3 + :rand.uniform() * 12)
    sk = sketch(values, 0.01, 256)
    assert length(:lumin_sketch.bins(sk)) <= 256
    sorted = Enum.sort(values)
    for q <- [0.9, 0.99, 0.999], do: assert(abs(:lumin_sketch.quantile(sk, q) - exact(sorted, q)) <= 0.01 * exact(sorted, q) * (1 + 1.0e-9))
    assert :erlang.external_size(sk) < 256 * 40 + 1000
  end

  test "a sketch rebuilt from its buckets, zero bucket and exact figures is the same sketch" do
    seed(9)
    values = sample(:lognormal, 5000) ++ [0.0, 0.0005]
    sk = sketch(values)
    back = :lumin_sketch.from_bins(0.01, :lumin_sketch.zero(sk), :lumin_sketch.bins(sk), {:lumin_sketch.count(sk), :lumin_sketch.sum(sk), :lumin_sketch.min(sk), :lumin_sketch.max(sk)})
    assert :lumin_sketch.zero(back) == 2
    for q <- @qs, do: assert(:lumin_sketch.quantile(back, q) == :lumin_sketch.quantile(sk, q))
  end

  test "a summary folds completed calls per function, counts exceptions, and starts a new interval when taken" do
    sum = :lumin_summary.new(0.01, 1000)
    call = fn mfa, us, outcome -> {self(), mfa, 0, 0, round(us * 1000), outcome, :ok, :undefined} end
    sum =
      Enum.reduce(1..100, sum, fn i, acc ->
        acc = :lumin_summary.add(call.({:m, :f, 1}, i, :return), acc)
        :lumin_summary.add(call.({:m, :g, 2}, 10 * i, if(rem(i, 10) == 0, do: :error, else: :return)), acc)
      end)
    {payload, sum2} = :lumin_summary.take(sum, %{{:m, :f, 1} => 100, {:m, :g, 2} => 150, {:m, :h, 0} => 7, {:m, :idle, 0} => 0})
    assert %{at_us: at, every_ms: 1000, alpha: 0.01, sketches: packed} = payload
    # Intervals end on the wall-clock grid: every node closes the same ones.
    assert rem(at, 1_000_000) == 0 and abs(at - System.system_time(:microsecond)) < 1_100_000
    {:ok, sketches} = :lumin_summary_wire.unpack(packed)
    by = Map.new(sketches, fn {{m, f, a}, s} -> {f, Map.merge(s, %{module: m, arity: a})} end)
    assert %{calls: 100, count: 100, errors: 0, max_us: 100.0, min_us: 1.0, module: "m", arity: 1} = by["f"]
    assert %{calls: 150, count: 100, errors: 10, max_us: 1000.0} = by["g"]
    # Called, but none of its calls fed the sketch: shipped with an empty one; not called: not shipped.
    assert %{calls: 7, count: 0, bins: [], max_us: 0.0} = by["h"]
    refute Map.has_key?(by, "idle")
    assert byte_size(packed) <= 8 * 100 + 100
    assert {%{sketches: <<1, 0, 0>>, at_us: at2}, _} = :lumin_summary.take(sum2, %{})
    assert at2 == at + 1_000_000
  end
end

defmodule LuminSummaryWireTest do
  # How a --summary interval crosses the network (lumin_summary_wire): every function's sketch packed into one
  # binary. Packed and read back, each is the same sketch (buckets, zero bucket, exact figures, quantiles) on
  # many random data sets; the bytes of a fixed interval are pinned, and test/unit/packed-sketches.test.ts pins
  # the same bytes for the kernel's reader and writer, so the two sides cannot drift apart unseen.
  use ExUnit.Case, async: true

  defp seed(n), do: :rand.seed(:exsss, {n, n * 7 + 1, n * 13 + 5})
  defp sketch(values, alpha \\ 0.01, bins \\ 1024), do: Enum.reduce(values, :lumin_sketch.new(alpha, bins), &:lumin_sketch.add(&2, &1))

  # The bytes of one interval: Shop.Orders.place/2 (9 calls, 7 of them in the sketch: a zero, a value under
  # 1 µs, so a negative bucket index, a bucket of two, and gaps), and :checkout."é"/0 (300 calls in one bucket: a
  # two-byte count; a UTF-8 name).
  @golden <<1, 2, 43, 18, 0, "Elixir.Shop.Orders", 5, 0, "place", 2, 8, 0, "checkout", 2, 0, 195, 169, 0,
            9, 7, 1, 1, 246, 40, 92, 143, 130, 164, 176, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 175, 64,
            67, 194, 3, 1, 0, 114, 2, 0, 158, 1, 1, 0, 3, 1, 0, 170, 1, 1,
            172, 2, 172, 2, 0, 0, 0, 0, 0, 0, 0, 104, 160, 64, 0, 0, 0, 0, 0, 0, 28, 64, 0, 0, 0, 0, 0, 0, 28, 64, 196, 1, 1, 172, 2>>

  test "a fixed interval packs to the pinned bytes (the kernel's test pins the same) and reads back" do
    place = sketch([0.0, 0.5, 5.0, 5.01, 120.0, 130.0, 4000.0])
    e = sketch(List.duplicate(7.0, 300))
    bin = :lumin_summary_wire.pack([{{:"Elixir.Shop.Orders", :place, 2}, place, 1, 9}, {{:checkout, :"é", 0}, e, 0, 300}])
    assert bin == @golden
    assert {:ok, [{{"Elixir.Shop.Orders", "place", 2}, p}, {{"checkout", "é", 0}, c}]} = :lumin_summary_wire.unpack(bin)
    assert p == %{calls: 9, count: 7, errors: 1, zero: 1, sum_us: 4260.51, min_us: 0.0, max_us: 4000.0, bins: [{-34, 1}, {81, 2}, {240, 1}, {244, 1}, {415, 1}]}
    assert c == %{calls: 300, count: 300, errors: 0, zero: 0, sum_us: 2100.0, min_us: 7.0, max_us: 7.0, bins: [{98, 300}]}
  end

  test "every function's sketch reads back the same, whatever its shape, size, accuracy or bound" do
    for run <- 1..24 do
      seed(run)
      alpha = Enum.at([0.01, 0.02, 0.001, 0.05], rem(run, 4))
      max_bins = if rem(run, 5) == 0, do: 64, else: 1024
      fns =
        for f <- 1..(1 + rem(run, 6)) do
          n = Enum.random([1, 2, 50, 3000, 20_000])
          values =
            for _ <- 1..n do
              case rem(run + f, 4) do
                0 -> :math.exp(5 + 1.5 * :rand.normal())
                1 -> if :rand.uniform() < 0.1, do: 0.0, else: :rand.uniform() * 3
                2 -> if :rand.uniform() < 0.001, do: 1.0e7 * :rand.uniform(), else: 100 + :rand.uniform()
                3 -> :math.pow(10, -4 + :rand.uniform() * 10)
              end
            end
          {{:m, :"f#{f}", rem(f * 7, 256)}, sketch(values, alpha, max_bins), rem(n, 3 + f), n * f}
        end
      bin = :lumin_summary_wire.pack(fns)
      {:ok, back} = :lumin_summary_wire.unpack(bin)
      assert length(back) == length(fns)
      for {{{m, f, a}, sk, errors, calls}, {{mb, fb, ab}, r}} <- Enum.zip(fns, back) do
        assert {mb, fb, ab} == {Atom.to_string(m), Atom.to_string(f), a}
        assert r.bins == :lumin_sketch.bins(sk)
        assert {r.calls, r.count, r.errors, r.zero} == {calls, :lumin_sketch.count(sk), errors, :lumin_sketch.zero(sk)}
        assert {r.sum_us, r.min_us, r.max_us} == {:lumin_sketch.sum(sk), :lumin_sketch.min(sk) * 1.0, :lumin_sketch.max(sk) * 1.0}
        again = :lumin_sketch.from_bins(alpha, r.zero, r.bins, {r.count, r.sum_us, r.min_us, r.max_us})
        for q <- [0.0, 0.5, 0.9, 0.99, 0.999, 1.0], do: assert(:lumin_sketch.quantile(again, q) == :lumin_sketch.quantile(sk, q))
      end
      # Never more than the 8 bytes a bucket of index/count pairs, plus each function's 24 bytes of exact figures.
      buckets = Enum.sum(for {_, sk, _, _} <- fns, do: length(:lumin_sketch.bins(sk)))
      assert byte_size(bin) <= 8 * buckets + 40 * length(fns) + 20 * length(fns) + 3
    end
  end

  test "an empty interval, and a binary of another version, are told apart" do
    assert :lumin_summary_wire.pack([]) == <<1, 0, 0>>
    assert :lumin_summary_wire.unpack(<<1, 0, 0>>) == {:ok, []}
    assert :lumin_summary_wire.unpack(<<2, 0, 0>>) == {:error, {:version, 2}}
  end

  test "a 2,000-call interval of a log-normal latency packs to under a fifth of 8 bytes a bucket" do
    seed(3)
    sk = sketch(for _ <- 1..2000, do: :math.exp(6 + 1.2 * :rand.normal()))
    size = byte_size(:lumin_summary_wire.pack([{{:m, :f, 1}, sk, 0, 2000}]))
    assert size < 8 * length(:lumin_sketch.bins(sk)) / 5
  end
end

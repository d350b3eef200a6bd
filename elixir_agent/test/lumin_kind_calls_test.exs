defmodule LuminKindCallsTest do
  # Call probes (lumin_kind_calls, on the probe runtime lumin_probe) run in this test node; the test process is
  # both the agent (each probe's owner) and the bridge (its Report): it acknowledges batches and decodes them as
  # the kernel would. The owner is never traced, so the traced calls are made by spawned processes.
  use ExUnit.Case, async: false

  @columns ~w(node pid process module function arity depth start_us duration_us outcome result exception_class
              exception_reason args)a

  defmodule Target do
    def leaf(x), do: x + 1
    def nest(0), do: 0
    def nest(n), do: 1 + nest(n - 1)
    def boom(x), do: raise(ArgumentError, "boom #{x}")
    def slow(ms), do: (Process.sleep(ms); :done)
    def big(n), do: String.duplicate("x", n)
    def raw(b), do: {:lumin_raw, b}
    def state(n), do: {:reply, :ok, Map.new(1..n, &{&1, {:entry, &1, "payload"}})}
    def count(0), do: :done
    def count(n), do: count(n - 1)
    def outer(n), do: leaf(n) + leaf(n)
  end

  @mod "Elixir.LuminKindCallsTest.Target"

  setup do
    # The owner of the node's tracer and flags, as the agent starts it (one per test: it ends with the test).
    start_supervised!(%{id: :lumin_trace, start: {:lumin_trace, :start_link, []}})
    # Each probe watches the test process and cleans up when it goes; the owner of the tracer (stopped with
    # the test) removes what a probe still held.
    on_exit(fn -> assert :erlang.trace_info(:new, :tracer) == {:tracer, []} end)
    %{c: :probes}
  end

  defp arm(_c, name, function, opts \\ %{}) do
    spec = Map.merge(%{module: @mod, function: function, limit: 100_000, rate: 100_000_000, time_ms: 60_000, unsafe: true}, opts)
    {:ok, pid, _} = :lumin_probe.arm(:calls, name, spec, self())
    Process.put({:probe, name}, pid)
    assert_receive {:lumin_event, :probe_status, %{name: ^name, state: :armed}}
  end

  defp disarm(name), do: :ok = :lumin_probe.disarm(Process.get({:probe, name}))

  defp run(fun) do
    {pid, ref} = spawn_monitor(fun)
    assert_receive {:DOWN, ^ref, :process, ^pid, _}, 10_000
    pid
  end

  test "every call is one row: exact count under the limit, results, durations, depth of nested calls", %{c: c} do
    arm(c, "leaf", "leaf", %{limit: 10_000})
    pid = run(fn -> for i <- 1..12_000, do: Target.leaf(i) end)
    {rows, status} = collect("leaf")
    assert %{state: :ended, why_ended: :limit, seen: 10_000, dropped: 0} = status
    assert length(rows) == 10_000
    assert Enum.map(rows, & &1.result) == Enum.map(1..10_000, &(&1 + 1))
    assert Enum.all?(rows, &(&1.pid == pid and &1.depth == 0 and &1.outcome == :return and &1.duration_us >= 0))
    assert Enum.all?(rows, &(&1.module == LuminKindCallsTest.Target and &1.function == :leaf and &1.arity == 1))
    assert Enum.all?(rows, &(&1.args == nil and &1.exception_class == nil and &1.exception_reason == nil))
    starts = Enum.map(rows, & &1.start_us)
    assert starts == Enum.sort(starts)

    arm(c, "nest", "nest")
    run(fn -> Target.nest(3) end)
    {rows, _} = collect("nest", disarm: c)
    # Rows come as calls return: the innermost first.
    assert Enum.map(rows, &{&1.depth, &1.result}) == [{3, 0}, {2, 1}, {1, 2}, {0, 3}]
  end

  test "exceptions keep their class and reason; --args keeps the arguments, a huge one cut", %{c: c} do
    arm(c, "boom", "boom", %{args: true})
    run(fn -> for i <- 1..3, do: catch_error(Target.boom(i)) end)
    {rows, _} = collect("boom", disarm: c)
    assert Enum.map(rows, & &1.args) == [[1], [2], [3]]
    assert Enum.all?(rows, &(&1.outcome == :exception and &1.exception_class == :error and &1.result == nil))
    assert %ArgumentError{message: "boom 1"} = hd(rows).exception_reason

    arm(c, "big", "big", %{args: true})
    run(fn -> Target.big(100_000) end)
    {[row], _} = collect("big", disarm: c)
    assert {:lumin_cut, size, _} = row.result
    assert size > 100_000
    assert row.args == [100_000]
  end

  test "a result that looks like the columns' own raw marker is kept as a term", %{c: c} do
    arm(c, "raw", "raw")
    run(fn -> Target.raw("not encoded") end)
    {[row], _} = collect("raw", disarm: c)
    assert row.result == {:lumin_raw, "not encoded"}
  end

  test "a probe ends as soon as its last calls are in, not after a fixed wait", %{c: c} do
    arm(c, "quick", "leaf", %{limit: 1000})
    t0 = System.monotonic_time(:millisecond)
    run(fn -> for i <- 1..1000, do: Target.leaf(i) end)
    {rows, %{why_ended: :limit}} = collect("quick")
    assert length(rows) == 1000
    # The drain waits up to 500 ms for open calls; none is open here.
    assert System.monotonic_time(:millisecond) - t0 < 400
  end

  test "a call under way when the probe is disarmed still becomes a row", %{c: c} do
    arm(c, "slow", "slow")
    parent = self()
    spawn(fn -> send(parent, {:slow, Target.slow(150)}) end)
    Process.sleep(30)
    disarm("slow")
    {rows, status} = collect("slow")
    assert_receive {:slow, :done}, 1000
    assert %{why_ended: :disarmed, seen: 1} = status
    assert [%{result: :done, duration_us: d}] = rows
    assert d >= 150_000
  end

  test "the buffer budget drops rows, counted, and ends the probe", %{c: c} do
    # Unacknowledged batches keep rows waiting on the node: past the buffer budget they are dropped.
    arm(c, "buf", "leaf", %{buffer: 100})
    run(fn -> for i <- 1..20_000, do: Target.leaf(i) end)
    {rows, status, dropped} = collect_no_ack("buf")
    assert %{why_ended: :buffer, state: :ended} = status
    assert dropped > 0 and status.dropped == dropped
    assert length(rows) + dropped == status.seen
  end

  test "--no-result: durations and depth without any result (no return value copied), a tail-call chain ends at once", %{c: c} do
    arm(c, "nores", "state", %{no_result: true})
    run(fn -> for _ <- 1..3, do: Target.state(50_000) end)
    {rows, status} = collect("nores", disarm: c)
    assert %{seen: 3, dropped: 0} = status
    assert length(rows) == 3
    assert Enum.all?(rows, &(&1.result == nil and &1.outcome == nil and &1.duration_us > 0 and &1.depth == 0))

    # A function calling itself in tail position: one return_to ends the whole chain.
    arm(c, "chain", "count", %{no_result: true})
    run(fn -> Target.count(4) end)
    {rows, _} = collect("chain", disarm: c)
    assert length(rows) == 5
    assert rows |> Enum.map(& &1.depth) |> Enum.sort() == [0, 1, 2, 3, 4]
  end

  test "a probe without results and one with results, armed together, each get exact rows", %{c: c} do
    arm(c, "with", "leaf")
    arm(c, "without", "outer", %{no_result: true})
    run(fn -> for i <- 1..100, do: Target.outer(i) end)
    disarm("with")
    {with_rows, _} = collect("with")
    {without_rows, _} = collect("without", disarm: c)
    assert length(with_rows) == 200
    assert Enum.map(with_rows, & &1.result) |> Enum.sort() == Enum.sort(Enum.flat_map(1..100, &[&1 + 1, &1 + 1]))
    assert length(without_rows) == 100
    assert Enum.all?(without_rows, &(&1.result == nil and &1.depth == 0))
  end

  test "a big result is cut where it arrives, to the probe's --cut size", %{c: c} do
    arm(c, "cut", "state", %{cut_bytes: 256})
    run(fn -> Target.state(100_000) end)
    {[row], _} = collect("cut", disarm: c)
    assert {:lumin_cut, bytes, _prefix} = row.result
    assert bytes > 256
    assert :erlang.external_size(row.result) < 4096
  end

  test "a match spec the VM refuses leaves no trace flag on any process" do
    spec = %{module: @mod, function: "leaf", arity: 1, match_spec: [{[:"$1"], [{:byte_size, :"$1", 1}]}]}
    assert {:error, msg} = :lumin_probe.arm(:calls, "bad", spec, self())
    assert msg =~ "not valid"
    assert :erlang.trace_info(:new, :tracer) == {:tracer, []}
    assert Enum.all?(Process.list(), &(:erlang.trace_info(&1, :flags) in [{:flags, []}, :undefined]))
    assert :erlang.trace_info({LuminKindCallsTest.Target, :leaf, 1}, :traced) == {:traced, false}
  end

  test "a module, or several functions, in one probe", %{c: c} do
    arm(c, "mod", nil, %{function: nil, arity: nil})
    run(fn -> Target.leaf(1); Target.count(2) end)
    {rows, _} = collect("mod", disarm: c)
    assert rows |> Enum.map(& &1.function) |> Enum.uniq() |> Enum.sort() == [:count, :leaf]

    arm(c, "two", "leaf", %{functions: [%{module: @mod, function: "leaf", arity: 1}, %{module: @mod, function: "outer", arity: 1}]})
    run(fn -> Target.outer(1) end)
    {rows, _} = collect("two", disarm: c)
    assert rows |> Enum.map(& &1.function) |> Enum.sort() == [:leaf, :leaf, :outer]
  end

  test "the watchdog ends only the busy probe; its idle neighbour stays armed", %{c: c} do
    arm(c, "idle", "count", %{rate: 1000})
    arm(c, "busy", "leaf", %{rate: 1000, limit: 1_000_000})
    spawn(fn -> for i <- 1..400_000, do: Target.leaf(i) end)
    # What was queued when the flood was stopped at its source is dropped, counted.
    {_, status, dropped} = collect_no_ack("busy")
    assert %{why_ended: :rate} = status
    assert status.dropped == dropped
    assert %{name: "idle", state: :armed} = :lumin_probe.status(Process.get({:probe, "idle"}))
    disarm("idle")
    {_, idle} = collect("idle")
    assert idle.why_ended == :disarmed
  end

  test "limits above the safe range are refused without unsafe" do
    assert {:error, msg} = :lumin_probe.arm(:calls, "big", %{module: @mod, function: "leaf", rate: 1_000_000}, self())
    assert msg =~ "--unsafe"
  end

  # ---- helpers ------------------------------------------------------------------------------------------

  defp collect(name, opts \\ []) do
    if opts[:disarm] do
      Process.sleep(20)
      disarm(name)
    end

    collect_loop(name, [])
  end

  defp collect_loop(name, acc) do
    receive do
      {:lumin_event, :probe_batch, %{name: ^name, kind: :calls, batch: batch, from: from}} ->
        send(from, {:lumin_ack, name})
        {rows, 0} = decode(batch)
        collect_loop(name, [rows | acc])

      {:lumin_event, :probe_status, %{name: ^name, state: :ended} = status} ->
        {acc |> Enum.reverse() |> Enum.concat(), status}

      {:lumin_event, :probe_status, %{name: ^name}} ->
        collect_loop(name, acc)
    after
      5000 -> flunk("probe #{name} did not end")
    end
  end

  # Without acknowledging any batch until the probe has ended.
  defp collect_no_ack(name, acc \\ [], dropped \\ 0) do
    receive do
      {:lumin_event, :probe_batch, %{name: ^name, batch: batch}} ->
        {rows, d} = decode(batch)
        collect_no_ack(name, [rows | acc], dropped + d)

      {:lumin_event, :probe_status, %{name: ^name, state: :ended} = status} ->
        {acc |> Enum.reverse() |> Enum.concat(), status, dropped}

      {:lumin_event, :probe_status, %{name: ^name}} ->
        collect_no_ack(name, acc, dropped)
    after
      5000 -> flunk("probe #{name} did not end")
    end
  end

  defp decode(batch) do
    %{kind: :calls, dropped: dropped, rows: rows} = LuminTest.Batch.decode(batch, @columns)
    {rows, dropped}
  end
end

defmodule LuminProbeKilledTest do
  # A probe killed outright (exit(Pid, kill): no terminate, no undo of its own) still leaves no trace pattern
  # or counter behind: lumin_trace, which outlives it, removes what it had set — and not what a probe still
  # armed on the same function needs.
  use ExUnit.Case, async: false

  @moduletag :capture_log

  defmodule Work do
    def f(x), do: x + 1
    def g(x), do: x * 2
  end

  setup do
    start_supervised!(%{id: :lumin_trace, start: {:lumin_trace, :start_link, []}})
    :ok
  end

  defp spec(fun, extra \\ %{}),
    do: Map.merge(%{module: "Elixir.LuminProbeKilledTest.Work", function: fun, arity: 1, target: "test"}, extra)

  defp kill(probe) do
    ref = Process.monitor(probe)
    Process.exit(probe, :kill)
    assert_receive {:DOWN, ^ref, :process, ^probe, :killed}, 5000
  end

  defp traced(mfa, flag), do: elem(:erlang.trace_info(mfa, flag), 1)

  # lumin_trace handles the probe's end in its own time: wait for what it removes, up to 5 s.
  defp eventually(check, deadline \\ System.monotonic_time(:millisecond) + 5000) do
    cond do
      check.() -> true
      System.monotonic_time(:millisecond) > deadline -> false
      true -> Process.sleep(20) && eventually(check, deadline)
    end
  end

  test "a killed call probe's pattern goes; another probe's on the same function stays" do
    f = {Work, :f, 1}
    {:ok, killed, _} = :lumin_probe.arm(:calls, "killed", spec("f"), self())
    {:ok, other, _} = :lumin_probe.arm(:counts, "other", spec("f", %{every_ms: 60_000}), self())
    assert traced(f, :traced) == :local and traced(f, :call_time) != false
    kill(killed)
    assert eventually(fn -> traced(f, :traced) == false end)
    # The counts probe's own pattern is untouched, and it still counts.
    assert traced(f, :call_time) != false
    :ok = :lumin_probe.disarm(other)
    assert traced(f, :call_time) == false
  end

  test "a killed summary probe leaves neither its pattern nor its call_count counter, and its sampler is gone" do
    g = {Work, :g, 1}
    {:ok, probe, _} = :lumin_probe.arm(:calls, "summary", spec("g", %{summary: %{every_ms: 60_000}}), self())
    assert traced(g, :call_count) != false
    sampler = :lumin_sampler.pid(:sys.get_state(probe).sampler)
    assert is_pid(sampler) and Process.alive?(sampler)
    kill(probe)
    assert eventually(fn -> traced(g, :traced) == false and traced(g, :call_count) == false end)
    refute Process.alive?(sampler)
  end

  test "a killed counts probe leaves no call_time counter" do
    f = {Work, :f, 1}
    {:ok, probe, _} = :lumin_probe.arm(:counts, "counts", spec("f", %{every_ms: 60_000}), self())
    assert traced(f, :call_time) != false
    kill(probe)
    assert eventually(fn -> traced(f, :call_time) == false end)
  end
end

defmodule LuminSamplerTest do
  # A --summary probe in this test node: exact counts from the VM's call_count, every call of a quiet function in
  # the sketch, and a bounded share of a busy one's. The test process is the probe's owner and its bridge.
  use ExUnit.Case, async: false

  @moduletag :capture_log

  defmodule Work do
    def quiet(x), do: if(rem(x, 10) == 0, do: raise("every tenth"), else: x)
    def busy(x), do: x + 1
    def loop(0), do: :ok
    def loop(n), do: (_ = Work.busy(n); loop(n - 1))
  end

  setup do
    start_supervised!(%{id: :lumin_trace, start: {:lumin_trace, :start_link, []}})
    :ok
  end

  # The calls run in a process of their own (the test process is the probe's owner: never traced).
  defp run(f) do
    {pid, ref} = spawn_monitor(f)
    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 30_000
  end

  # `n` calls of Work.quiet/1 (every tenth raises), 200 a second: under the 1,000 a second that may feed the sketch.
  defp call_quietly(n) do
    run(fn ->
      for i <- 1..n do
        try do
          Work.quiet(i)
        rescue
          _ -> :raised
        end

        if rem(i, 2) == 0, do: Process.sleep(10)
      end
    end)
  end

  defp arm(fun, name, sample_rate \\ nil, extra \\ %{}) do
    summary = %{every_ms: 60_000}
    summary = if sample_rate, do: Map.put(summary, :sample_rate, sample_rate), else: summary
    spec = Map.merge(%{module: "Elixir.LuminSamplerTest.Work", function: fun, arity: 1, summary: summary, target: "test"}, extra)
    :lumin_probe.arm(:calls, name, spec, self())
  end

  # Every interval's sketch of the function, summed, once the probe has ended.
  defp shipped(name, acc \\ %{calls: 0, count: 0, errors: 0}) do
    receive do
      {:lumin_event, :probe_sketches, %{name: ^name, sketches: packed}} ->
        {:ok, sketches} = :lumin_summary_wire.unpack(packed)
        acc = Enum.reduce(sketches, acc, fn {_, s}, a -> %{calls: a.calls + s.calls, count: a.count + s.count, errors: a.errors + s.errors} end)
        shipped(name, acc)

      {:lumin_event, :probe_status, %{name: ^name, state: :ended} = status} ->
        Map.merge(acc, %{why_ended: status.why_ended, seen: status.seen})

      {:lumin_event, _, %{name: ^name}} ->
        shipped(name, acc)
    after
      10_000 -> flunk("probe #{name} did not end")
    end
  end

  test "a quiet function: every call feeds the sketch, and every exception is counted" do
    {:ok, probe, _} = arm("quiet", "q")
    call_quietly(200)

    :ok = :lumin_probe.disarm(probe)
    assert %{calls: 200, count: 200, errors: 20, why_ended: :disarmed} = shipped("q")
    mfa = {Work, :quiet, 1}
    assert :erlang.trace_info(mfa, :traced) == {:traced, false}
    assert :erlang.trace_info(mfa, :call_count) == {:call_count, false}
  end

  test "without results (--no-result): the same, each call timed to its return to the caller" do
    {:ok, probe, _} = arm("quiet", "nr", nil, %{no_result: true})
    call_quietly(100)

    :ok = :lumin_probe.disarm(probe)
    # Without exception_trace the VM says nothing of exceptions: calls and their times only.
    assert %{calls: 100, count: 100, errors: 0, why_ended: :disarmed} = shipped("nr")
    assert :erlang.trace_info({Work, :quiet, 1}, :traced) == {:traced, false}
  end

  test "a busy function: the count is exact, and only a bounded share of its calls feeds the sketch" do
    {:ok, probe, _} = arm("busy", "b", 500)
    # Past the first ticks (the sampler has seen the function idle), then calls as fast as this process makes them.
    Process.sleep(250)
    t0 = System.monotonic_time(:millisecond)
    run(fn -> Work.loop(300_000); Process.sleep(300); Work.loop(300_000) end)
    elapsed_s = (System.monotonic_time(:millisecond) - t0) / 1000
    :ok = :lumin_probe.disarm(probe)
    %{calls: calls, count: count} = got = shipped("b")
    assert %{why_ended: :disarmed} = got
    assert calls == 600_000
    # 500 calls a second may feed it; a burst is cut within a tick or two of the tracer's lag.
    assert count > 0
    assert count < 600_000 / 4, "#{count} of #{calls} calls fed the sketch in #{elapsed_s} s"
    assert :erlang.trace_info({Work, :busy, 1}, :traced) == {:traced, false}
    assert :erlang.trace_info({Work, :busy, 1}, :call_count) == {:call_count, false}
  end

  test "a sampler that stops on its own ends its probe, saying so, and leaves the function clean" do
    {:ok, probe, _} = arm("busy", "k")
    [sampler] = for p <- Process.list(), match?({:lumin_sampler, :init, _}, :proc_lib.initial_call(p)), do: p
    watch = Process.monitor(probe)
    Process.exit(sampler, :kill)
    assert_receive {:lumin_event, :probe_status, %{name: "k", state: :ended, why_ended: :disarmed, detail: detail}}, 5000
    assert detail =~ "its sampler stopped (killed): nothing bounded what it traced"
    # (Its last status goes out just before it exits: wait for the exit, not only the status.)
    assert_receive {:DOWN, ^watch, :process, ^probe, _}, 5000
    assert :erlang.trace_info({Work, :busy, 1}, :traced) == {:traced, false}
    assert :erlang.trace_info({Work, :busy, 1}, :call_count) == {:call_count, false}
  end

  test "a function another tool counts with call_count is refused, and left as it was" do
    mfa = {Work, :busy, 1}
    1 = :erlang.trace_pattern(mfa, true, [:call_count])
    on_exit(fn -> :erlang.trace_pattern(mfa, false, [:call_count]) end)
    assert {:error, msg} = arm("busy", "r")
    assert IO.iodata_to_binary(msg) =~ "already counted with call_count by another tool"
    assert :erlang.trace_info(mfa, :traced) == {:traced, false}
    assert match?({:call_count, n} when is_integer(n), :erlang.trace_info(mfa, :call_count))
  end
end

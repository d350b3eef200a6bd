defmodule LuminProbeTest do
  # The probe kinds run in this test node; the test process is both the agent (the probe's owner) and the
  # bridge (its Report): it acknowledges batches and decodes them as the kernel would.
  use ExUnit.Case, async: false
  require Logger

  @moduletag :capture_log

  # The columns of kernel/tables/schemas.ts.
  @columns %{
    messages: ~w(node time_us event from_pid from_name to_pid to_name protocol call_id latency_us message size_words)a,
    procs: ~w(node time_us event pid name other mfa reason)a,
    state: ~w(node pid name seq time_us duration_us kind message state_before state_after state_name_before
              state_name_after reply state_diff)a,
    telemetry: ~w(node time_us pid event measurements metadata)a,
    logs: ~w(node time_us level pid mfa file line message metadata)a,
    metrics: ~w(node time_us memory_total memory_processes memory_binary memory_ets memory_atom memory_code
                process_count port_count run_queue scheduler_utilization reductions_per_s io_in_bytes_per_s
                io_out_bytes_per_s)a
  }

  defmodule Counter do
    use GenServer
    def start_link(opts \\ []), do: GenServer.start_link(__MODULE__, 0, opts)
    @impl true
    def init(n), do: {:ok, n}
    @impl true
    def handle_call({:add, k}, _from, n), do: {:reply, n + k, n + k}
    def handle_call(:get, _from, n), do: {:reply, n, n}
    @impl true
    def handle_cast({:add, k}, n), do: {:noreply, n + k}
    def handle_cast({:crash, reason}, n), do: {:stop, reason, n}
    @impl true
    def handle_info({:add, k}, n), do: {:noreply, n + k}
  end

  defmodule Door do
    @behaviour :gen_statem
    def start, do: :gen_statem.start(__MODULE__, 0, [])
    @impl true
    def callback_mode, do: :state_functions
    @impl true
    def init(n), do: {:ok, :locked, n}
    def locked({:call, from}, {:unlock, code}, n), do: {:next_state, :open, n + code, [{:reply, from, :opened}]}
    def locked(:cast, :knock, n), do: {:keep_state, n + 1}
    def open(:cast, :lock, n), do: {:next_state, :locked, n * 2}
    def open(:info, :wind, n), do: {:keep_state, n + 100}
    def open({:call, from}, :status, n), do: {:keep_state_and_data, [{:reply, from, {:open, n}}]}
  end

  setup do
    # The owner of the node's tracer and flags, as the agent starts it (one per test: it ends with the test).
    start_supervised!(%{id: :lumin_trace, start: {:lumin_trace, :start_link, []}})
    :ok
  end

  # ---- messages -----------------------------------------------------------------------------------

  test "messages: N calls and M casts give exact rows, each call paired with its reply" do
    {:ok, srv} = Counter.start_link()
    {:ok, probe, info} = arm(:messages, %{process: pid_text(srv)}, "m")
    assert %{kind: :messages, target: "test"} = info
    assert_receive {:lumin_event, :probe_status, %{name: "m", state: :armed, kind: :messages}}

    n = 5
    m = 3
    for i <- 1..n, do: GenServer.call(srv, {:add, i})
    for _ <- 1..m, do: GenServer.cast(srv, {:add, 1})
    :ok = :lumin_probe.disarm(probe)
    {rows, status} = collect("m", :messages)

    assert length(rows) == 2 * n + m
    assert %{state: :ended, why_ended: :disarmed, seen: seen} = status
    assert seen == 2 * n + m

    calls = Enum.filter(rows, &(&1.protocol == :call))
    replies = Enum.filter(rows, &(&1.protocol == :reply))
    casts = Enum.filter(rows, &(&1.protocol == :cast))
    assert length(calls) == n and length(replies) == n and length(casts) == m

    me = self()
    for {row, i} <- Enum.zip(calls, 1..n) do
      assert %{event: :receive, from_pid: ^me, to_pid: ^srv, message: {:"$gen_call", {^me, _}, {:add, ^i}}} = row
      assert is_binary(row.call_id) and row.call_id =~ "#Ref<"
      assert row.latency_us == nil
    end

    for row <- replies do
      assert %{event: :send, from_pid: ^srv, to_pid: ^me} = row
      assert is_float(row.latency_us) and row.latency_us >= 0
    end

    assert MapSet.new(calls, & &1.call_id) == MapSet.new(replies, & &1.call_id)
    assert Enum.map(replies, fn %{message: {_tag, value}} -> value end) == Enum.scan(1..n, &(&1 + &2))

    for row <- casts do
      assert %{event: :receive, to_pid: ^srv, from_pid: nil, call_id: nil, message: {:"$gen_cast", {:add, 1}}} = row
    end

    now = System.os_time(:microsecond)
    assert Enum.all?(rows, &(&1.size_words > 0 and abs(now - &1.time_us) < 60_000_000 and &1.node == node()))
    assert Enum.map(rows, & &1.time_us) == Enum.sort(Enum.map(rows, & &1.time_us))

    # Nothing remains: no trace flag, no tracer, and no probe process — it gave its last summary to its
    # owner (this test process) and stopped.
    assert :erlang.trace_info(srv, :tracer) == {:tracer, []}
    assert :erlang.trace_info(srv, :flags) == {:flags, []}
    assert_receive {:"$lumin", :probe_ended, ^probe, %{state: :ended, seen: seen}}, 2000
    assert seen == length(rows)
    refute Process.alive?(probe)
    assert :lumin_probe.status(probe) == :undefined
  end

  test "messages: the count budget ends the probe after exactly `limit` rows" do
    {:ok, srv} = Counter.start_link()
    {:ok, probe, _} = arm(:messages, %{process: pid_text(srv), limit: 3}, "lim")
    for i <- 1..5, do: GenServer.call(srv, {:add, i})
    {rows, status} = collect("lim", :messages)
    assert length(rows) == 3
    assert %{state: :ended, why_ended: :limit, seen: 3} = status
    assert status.detail =~ "count budget of 3"
    assert :erlang.trace_info(srv, :tracer) == {:tracer, []}
    :ok = :lumin_probe.stop(probe)
  end

  test "messages: `new` traces processes spawned from now on, never the agent's own" do
    {:ok, probe, info} = arm(:messages, %{process: "new"}, "new")
    assert [_warning] = info.warnings
    me = self()
    pid = spawn(fn -> send(me, {:hello, self()}) end)
    assert_receive {:hello, ^pid}
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("new", :messages)

    assert [%{event: :send, from_pid: ^pid, to_pid: ^me, protocol: :info, message: {:hello, ^pid}}] =
             Enum.filter(rows, &(&1.from_pid == pid))
    assert nothing_traced()
    :ok = :lumin_probe.stop(probe)
  end

  test "messages: the rate budget ends a probe that sees too much" do
    {:ok, srv} = Counter.start_link()
    {:ok, probe, _} = arm(:messages, %{process: pid_text(srv), rate: 20}, "rate")
    for _ <- 1..200, do: GenServer.call(srv, :get)
    {rows, status} = collect("rate", :messages)
    assert %{why_ended: :rate, state: :ended} = status
    assert status.detail =~ "rate budget of 20 messages/s exceeded"
    assert length(rows) == status.seen
    assert :erlang.trace_info(srv, :tracer) == {:tracer, []}
    :ok = :lumin_probe.stop(probe)
  end

  test "messages: processes are named as written, and refused clearly" do
    {:ok, srv} = Counter.start_link(name: Counter)
    {:ok, probe, _} = arm(:messages, %{process: "LuminProbeTest.Counter"}, "named")
    GenServer.call(Counter, :get)
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("named", :messages)
    assert [%{to_name: Counter, protocol: :call}, %{from_name: Counter, protocol: :reply}] = rows
    :ok = :lumin_probe.stop(probe)

    assert {:error, msg} = arm(:messages, %{process: "lumin_no_such_process_zz"})
    assert msg =~ "no process is registered as lumin_no_such_process_zz"
    # No atom was made from what the user wrote.
    assert_raise ArgumentError, fn -> String.to_existing_atom("lumin_no_such_process_zz") end

    assert {:error, msg} = arm(:messages, %{process: "<0.32767.5>"})
    assert msg =~ "no process <0.32767.5> is alive"
    assert {:error, msg} = arm(:messages, %{process: "<0.1"})
    assert msg =~ "is not a pid"
    assert {:error, msg} = arm(:state, %{process: "new"})
    assert msg =~ "only for message probes"
    assert {:error, msg} = :lumin_probe.arm(:bogus, "b", %{}, self())
    assert msg =~ "no probe kind bogus"

    # A process traced by someone else is left alone.
    other = spawn(fn -> Process.sleep(:infinity) end)
    :erlang.trace(srv, true, [:send, {:tracer, other}])
    assert {:error, msg} = arm(:messages, %{process: pid_text(srv)})
    assert msg =~ "already traced"
    assert :erlang.trace_info(srv, :tracer) == {:tracer, other}
    :erlang.trace(srv, false, [:send])
    Process.exit(other, :kill)
  end

  # ---- procs --------------------------------------------------------------------------------------

  test "procs: a supervisor's child crashed K times gives K exit rows with the reason" do
    children = [%{id: :worker, start: {Counter, :start_link, [[]]}}]
    {:ok, sup} = Supervisor.start_link(children, strategy: :one_for_one, max_restarts: 100, max_seconds: 1)
    {:ok, probe, _} = arm(:procs, %{process: pid_text(sup)}, "pr")

    k = 3
    crashed =
      for i <- 1..k do
        [{_, child, _, _}] = Supervisor.which_children(sup)
        ref = Process.monitor(child)
        GenServer.cast(child, {:crash, {:boom, i}})
        assert_receive {:DOWN, ^ref, _, _, {:boom, ^i}}
        wait_until(fn -> match?([{_, c, _, _}] when is_pid(c) and c != child, Supervisor.which_children(sup)) end)
        child
      end

    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("pr", :procs)

    exits = Enum.filter(rows, &(&1.event == :exit))
    assert Enum.map(exits, & &1.pid) == crashed
    assert Enum.map(exits, & &1.reason) == for(i <- 1..k, do: {:boom, i})

    spawns = Enum.filter(rows, &(&1.event == :spawn))
    assert length(spawns) == k
    assert Enum.all?(spawns, &(&1.pid == sup and &1.mfa == "LuminProbeTest.Counter.init/1" and is_pid(&1.other)))
    # Only the supervisor and its children appear.
    [{_, last, _, _}] = Supervisor.which_children(sup)
    family = MapSet.new([sup, last | crashed])
    assert Enum.all?(rows, &MapSet.member?(family, &1.pid))

    assert :erlang.trace_info(sup, :tracer) == {:tracer, []}
    assert :erlang.trace_info(:new, :tracer) == {:tracer, []}
    assert nothing_traced()
    :ok = :lumin_probe.stop(probe)
  end

  test "procs: without a process, every process: spawn, register, exit, unregister" do
    {:ok, probe, _} = arm(:procs, %{}, "all")
    ref = make_ref()

    pid =
      spawn(fn ->
        Process.register(self(), :lumin_procs_all_test)
        receive do
          :go -> exit({:all_mode, ref})
        end
      end)

    wait_until(fn -> Process.whereis(:lumin_procs_all_test) == pid end)
    mon = Process.monitor(pid)
    send(pid, :go)
    assert_receive {:DOWN, ^mon, _, _, _}
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("all", :procs)

    me = self()
    assert [%{pid: ^me, mfa: mfa}] = Enum.filter(rows, &(&1.event == :spawn and &1.other == pid))
    assert mfa =~ "LuminProbeTest"
    mine = Enum.filter(rows, &(&1.pid == pid))
    assert [:register, :exit, :unregister] == Enum.map(mine, & &1.event)
    assert [%{other: :lumin_procs_all_test}, %{reason: {:all_mode, ^ref}, name: :lumin_procs_all_test}, _] = mine
    assert nothing_traced()
    :ok = :lumin_probe.stop(probe)
  end

  test "messages: a receive ... after that times out is a timeout row, not a received message" do
    parent = self()
    poller = spawn(fn ->
      receive do :go -> :ok end
      for _ <- 1..3 do
        receive do
          :never -> :ok
        after 5 -> :ok
        end
      end
      receive do :real -> send(parent, :polled) end
    end)
    {:ok, probe, _} = arm(:messages, %{process: pid_text(poller)}, "t")
    send(poller, :go)
    Process.sleep(50)
    send(poller, :real)
    assert_receive :polled, 2000
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("t", :messages)
    assert Enum.map(rows, &{&1.event, &1.protocol}) ==
             [{:receive, :info}, {:timeout, :timeout}, {:timeout, :timeout}, {:timeout, :timeout}, {:receive, :info}, {:send, :info}]
  end

  # ---- kinds together ------------------------------------------------------------------------------

  test "call, message, procs and state probes on one GenServer, plus a call probe elsewhere: each its own exact rows; disarming one leaves the others" do
    {:ok, srv} = Counter.start_link()
    mod = "Elixir.LuminProbeTest.Counter"
    {:ok, c, _} = arm(:calls, %{module: mod, function: "handle_call", arity: 3}, "c")
    {:ok, c2, _} = arm(:calls, %{module: "lists", function: "duplicate", arity: 2}, "c2")
    {:ok, msgs, _} = arm(:messages, %{process: pid_text(srv)}, "m")
    {:ok, procs, _} = arm(:procs, %{process: pid_text(srv)}, "p")
    {:ok, state, _} = arm(:state, %{process: pid_text(srv)}, "s")

    caller = spawn(fn -> for i <- 1..5, do: GenServer.call(srv, {:add, i}); :lists.duplicate(3, :x) end)
    ref = Process.monitor(caller)
    assert_receive {:DOWN, ^ref, _, _, _}, 5000
    for _ <- 1..2, do: GenServer.cast(srv, {:add, 10})
    GenServer.call(srv, :get)

    # The message probe ends; the others go on.
    :ok = :lumin_probe.disarm(msgs)
    {m_rows, _} = collect("m", :messages)
    # 6 calls in, 6 replies out, 2 casts in
    assert length(m_rows) == 14, inspect(Enum.map(m_rows, &{&1.event, &1.protocol, &1.message, &1.from_pid, &1.to_pid}))
    assert :erlang.trace_info(srv, :flags) |> elem(1) |> Enum.sort() == [:arity, :call, :monotonic_timestamp, :procs]
    GenServer.call(srv, :get)

    :ok = :lumin_probe.disarm(state)
    {s_rows, _} = collect("s", :state)
    assert length(s_rows) == 9
    :ok = :lumin_probe.disarm(c)
    {c_rows, _} = collect_calls("c")
    assert length(c_rows) == 7
    :ok = :lumin_probe.disarm(c2)
    {c2_rows, _} = collect_calls("c2")
    assert length(c2_rows) == 1
    # The process probe saw no lifecycle event of the server (none happened) and is still armed until now.
    assert %{state: :armed} = :lumin_probe.status(procs)
    :ok = :lumin_probe.disarm(procs)
    {[], _} = collect("p", :procs)

    # Nothing is left: no flag on the server, no tracer on new processes.
    assert :erlang.trace_info(srv, :flags) == {:flags, []}
    assert :erlang.trace_info(:new, :tracer) == {:tracer, []}
  end

  defp collect_calls(name, acc \\ []) do
    receive do
      {:lumin_event, :probe_batch, %{name: ^name, kind: :calls, batch: batch, from: from}} ->
        send(from, {:lumin_ack, name})
        %{rows: rows} = LuminTest.Batch.decode(batch, ~w(node pid process module function arity depth start_us duration_us outcome result exception_class exception_reason args)a)
        collect_calls(name, [rows | acc])

      {:lumin_event, :probe_status, %{name: ^name, state: :ended} = status} ->
        {acc |> Enum.reverse() |> Enum.concat(), status}

      {:lumin_event, :probe_status, %{name: ^name}} ->
        collect_calls(name, acc)
    after
      5000 -> flunk("probe #{name} did not end")
    end
  end

  # ---- state --------------------------------------------------------------------------------------

  test "state: a gen_server's events wait in the probe's table, and past the mailbox budget the probe ends, counting them" do
    {:ok, srv} = Counter.start_link()
    {:ok, probe, _} = arm(:state, %{process: pid_text(srv), mailbox: 50}, "stq")
    # The probe cannot read its table while suspended: the hook's events pile up there, not in any mailbox.
    :ok = :sys.suspend(probe)
    for _ <- 1..200, do: GenServer.cast(srv, {:add, 1})
    assert GenServer.call(srv, :get) == 200
    assert {:message_queue_len, q} = Process.info(srv, :message_queue_len)
    assert q == 0
    :ok = :sys.resume(probe)
    {rows, status} = collect("stq", :state)
    assert %{state: :ended, why_ended: :mailbox} = status
    assert status.detail =~ "events waited on the node for the probe (budget 50)"
    # What waited was dropped, counted: nothing is lost silently.
    assert length(rows) + status.dropped == 201
    assert sys_debug(srv) == []
  end

  test "state: gen_server calls, casts and infos with exact state before and after" do
    {:ok, srv} = Counter.start_link()
    10 = GenServer.call(srv, {:add, 10})
    {:ok, probe, _} = arm(:state, %{process: pid_text(srv)}, "s")

    for i <- 1..3, do: GenServer.call(srv, {:add, i})
    for _ <- 1..2, do: GenServer.cast(srv, {:add, 100})
    for _ <- 1..2, do: send(srv, {:add, 1000})
    2216 = GenServer.call(srv, :get)
    :ok = :lumin_probe.disarm(probe)
    {rows, status} = collect("s", :state)

    assert status.seen == 8
    assert Enum.map(rows, & &1.seq) == Enum.to_list(0..7)
    assert Enum.map(rows, & &1.kind) == [:call, :call, :call, :cast, :cast, :info, :info, :call]
    assert Enum.map(rows, & &1.message) ==
             [{:add, 1}, {:add, 2}, {:add, 3}, {:add, 100}, {:add, 100}, {:add, 1000}, {:add, 1000}, :get]
    assert Enum.map(rows, & &1.state_before) == [10, 11, 13, 16, 116, 216, 1216, 2216]
    assert Enum.map(rows, & &1.state_after) == [11, 13, 16, 116, 216, 1216, 2216, 2216]
    assert Enum.map(rows, & &1.reply) == [11, 13, 16, nil, nil, nil, nil, 2216]
    assert Enum.all?(rows, &(&1.pid == srv and &1.state_name_before == nil and is_float(&1.duration_us)))

    assert sys_debug(srv) == []
    :ok = :lumin_probe.stop(probe)
  end

  test "state: a big state is cut in the watched process, --path keeps only a part" do
    big = Map.new(1..200_000, &{&1, {:entry, &1}})
    {:ok, srv} = GenServer.start_link(Counter, 0)
    :sys.replace_state(srv, fn _ -> %{queue: %{len: 0}, messages: big} end)
    {:ok, whole, _} = arm(:state, %{process: pid_text(srv)}, "whole")
    {:ok, part, _} = arm(:state, %{process: pid_text(srv), path: ["queue", "len"]}, "part")
    for _ <- 1..20, do: :sys.replace_state(srv, fn st -> put_in(st, [:queue, :len], st.queue.len + 1) end)
    GenServer.call(srv, :get)
    :ok = :lumin_probe.disarm(whole)
    :ok = :lumin_probe.disarm(part)
    {rows, _} = collect("whole", :state)
    {part_rows, _} = collect("part", :state)
    # The state arrived cut (a prefix of it with its size), never whole.
    assert [%{state_after: {:lumin_cut, bytes, _}}] = rows
    assert bytes > 4096
    # (replace_state is no message the process handles: the row is the :get call, after 20 changes)
    assert [%{state_before: 0, state_after: 20}] = Enum.map(part_rows, &Map.take(&1, [:state_before, :state_after]))
    assert sys_debug(srv) == []
  end

  defmodule BigQueue do
    use GenServer
    def init(messages), do: {:ok, %{messages: messages, queue: %{len: 0, last: nil}}}
    def handle_cast({:publish, m}, st), do: {:noreply, %{st | queue: %{len: st.queue.len + 1, last: m}}}
    def handle_cast({:take, k}, st), do: {:noreply, %{st | messages: Map.delete(st.messages, k)}}
    def handle_call(:len, _from, st), do: {:reply, st.queue.len, st}
  end

  test "state: a big state is shipped as a cut snapshot first, then as what each message changed" do
    {:ok, srv} = GenServer.start_link(BigQueue, Map.new(1..200_000, &{&1, {:entry, &1}}))
    {:ok, probe, _} = arm(:state, %{process: pid_text(srv)}, "bigdiff")
    for i <- 1..3, do: GenServer.cast(srv, {:publish, i})
    3 = GenServer.call(srv, :len)
    :ok = :lumin_probe.disarm(probe)
    {rows, status} = collect("bigdiff", :state)
    assert status.seen == 4
    # The first message: the state after it, cut (no diff: the state before was cut too).
    assert [%{state_after: {:lumin_cut, bytes, _}, state_diff: nil} | diffs] = rows
    assert bytes > 4096
    # Then only what changed: paths and values, no state (the state before the first of them is that snapshot).
    assert [{{:lumin_cut, ^bytes, _}, nil}, {nil, nil}, {nil, nil}] = Enum.map(diffs, &{&1.state_before, &1.state_after})
    assert Enum.map(diffs, & &1.state_diff) ==
             ["queue.last: 1 → 2; queue.len: 1 → 2", "queue.last: 2 → 3; queue.len: 2 → 3", "(unchanged)"]
    assert sys_debug(srv) == []
  end

  test "state: a small state is shipped whole, and its rows say what changed" do
    {:ok, srv} = GenServer.start_link(BigQueue, %{1 => :a})
    {:ok, probe, _} = arm(:state, %{process: pid_text(srv)}, "smalldiff")
    GenServer.cast(srv, {:publish, :x})
    GenServer.cast(srv, {:take, 1})
    1 = GenServer.call(srv, :len)
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("smalldiff", :state)
    assert [%{state_before: %{queue: %{len: 0}}, state_after: %{queue: %{len: 1, last: :x}}} | _] = rows
    assert Enum.map(rows, & &1.state_diff) ==
             ["queue.last: nil → :x; queue.len: 0 → 1", "messages[1]: removed :a", "(unchanged)"]
  end

  defmodule Tally do
    @behaviour :gen_event
    def init(st), do: {:ok, st}
    def handle_event(k, {n, big}), do: {:ok, {n + k, big}}
    def handle_call(:get, st), do: {:ok, st, st}
  end

  test "state: a gen_event's handler states are read without a whole copy leaving the process" do
    {:ok, mgr} = :gen_event.start()
    big = Enum.to_list(1..500_000)
    :ok = :gen_event.add_handler(mgr, Tally, {0, big})
    # Every message the manager sends, as the VM sees it (this test's own tracer).
    :erlang.trace(mgr, true, [:send])
    {:ok, probe, _} = arm(:state, %{process: pid_text(mgr)}, "ev")
    for k <- 1..3, do: :gen_event.sync_notify(mgr, k)
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("ev", :state)
    :erlang.trace(mgr, false, [:send])
    # Each handler's state at its view (cut here), in the list get_state would give.
    assert [{Tally, false, {:lumin_cut, _, {0, _}}}] = hd(rows).state_before
    # (read right after each event: under load it may already include the next ones)
    counts = Enum.map(rows, &(&1.state_after |> hd() |> elem(2) |> elem(2) |> elem(0)))
    assert length(counts) == 3 and List.last(counts) == 6 and counts == Enum.sort(counts)
    assert Enum.all?(counts, &(&1 in [1, 3, 6]))
    # A cut value is one change, never walked into.
    # (Cut parts that look the same may differ past their start: not called unchanged.)
    for r <- rows, r.state_diff != "(no change in what was shipped: part of the state was cut)", do: assert(r.state_diff =~ ~r/^\[1\]\.3: \{\d+, \[1, 2, .*bytes cut\) → \{\d+, .*bytes cut\)$/)
    sends = collect_sends(mgr, [])
    # Nothing the manager sent to the probe held its handlers' state whole (a 500,000-element list):
    # the whole answers went to a process that no longer exists, dropped by the VM.
    to_probe = for {:send, msg, ^probe} <- sends, do: :erts_debug.flat_size(msg)
    assert length(to_probe) >= 4
    assert Enum.max(to_probe) < 10_000
    assert Enum.any?(sends, &match?({:send_to_non_existing_process, _, _}, &1))
    :gen_event.stop(mgr)
  end

  defmodule Loop do
    # A process of its own that answers sys (as gen_server2 and proc_lib loops do), with a big state.
    def start(state), do: :proc_lib.spawn(fn -> loop(state, :sys.debug_options([])) end)

    defp loop({n, big}, deb) do
      receive do
        {:system, from, req} -> :sys.handle_system_msg(req, from, self(), __MODULE__, deb, {n, big})
        {:add, k} = msg ->
          deb = :sys.handle_debug(deb, fn dev, ev, _ -> IO.inspect(dev, ev, []) end, __MODULE__, {:in, msg})
          loop({n + k, big}, deb)
      end
    end

    def system_continue(_parent, deb, state), do: loop(state, deb)
    def system_terminate(reason, _parent, _deb, _state), do: exit(reason)
    def system_get_state(state), do: {:ok, state}
    def system_replace_state(fun, state), do: (new = fun.(state); {:ok, new, new})
  end

  test "state: a process of its own that answers sys is known by its loop, and its state read without a whole copy" do
    pid = Loop.start({0, Enum.to_list(1..500_000)})
    :erlang.trace(pid, true, [:send])
    {:ok, probe, _} = arm(:state, %{process: pid_text(pid), path: ["1"]}, "loop")
    for k <- [1, 2], do: send(pid, {:add, k})
    wait_until(fn -> match?({3, _}, :sys.get_state(pid)) end)
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("loop", :state)
    :erlang.trace(pid, false, [:send])
    # --path 1: the count, the first element of the state tuple.
    assert List.last(rows).state_after == 3
    assert hd(rows).state_before == 0
    sends = collect_sends(pid, [])
    assert Enum.max(for({:send, msg, ^probe} <- sends, do: :erts_debug.flat_size(msg))) < 10_000
    Process.exit(pid, :kill)
  end

  defp collect_sends(pid, acc) do
    receive do
      {:trace, ^pid, kind, msg, to} -> collect_sends(pid, [{kind, msg, to} | acc])
    after
      200 -> Enum.reverse(acc)
    end
  end

  test "state: gen_statem state names before and after, replies, and its data" do
    {:ok, door} = Door.start()
    {:ok, probe, info} = arm(:state, %{process: pid_text(door)}, "sm")
    assert [warning] = info.warnings
    assert warning =~ "gen_statem"

    :gen_statem.cast(door, :knock)
    :opened = :gen_statem.call(door, {:unlock, 5})
    send(door, :wind)
    {:open, 106} = :gen_statem.call(door, :status)
    :gen_statem.cast(door, :lock)
    wait_until(fn -> :sys.get_state(door) == {:locked, 212} end)
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("sm", :state)

    assert Enum.map(rows, & &1.kind) == [:cast, :call, :info, :call, :cast]
    assert Enum.map(rows, & &1.message) == [:knock, {:unlock, 5}, :wind, :status, :lock]
    assert Enum.map(rows, & &1.state_name_before) == [:locked, :locked, :open, :open, :open]
    assert Enum.map(rows, & &1.state_name_after) == [:locked, :open, :open, :open, :locked]
    assert Enum.map(rows, & &1.reply) == [nil, :opened, nil, {:open, 106}, nil]
    assert hd(rows).state_before == 0
    assert List.last(rows).state_after == 212
    # Data is read after each event: it never goes backwards, and each row starts where the last ended.
    for [a, b] <- Enum.chunk_every(rows, 2, 1, :discard), do: assert(a.state_after == b.state_before)

    assert sys_debug(door) == []
    :ok = :lumin_probe.stop(probe)
  end

  test "state: a process that does not answer sys is refused within about a second" do
    pid = spawn(fn -> Process.sleep(:infinity) end)
    t0 = System.monotonic_time(:millisecond)
    assert {:error, msg} = arm(:state, %{process: pid_text(pid)})
    assert msg =~ "did not answer a sys request within 1 s"
    assert System.monotonic_time(:millisecond) - t0 < 3000
    Process.exit(pid, :kill)
  end

  test "state: a watched process that exits ends the probe (target_down)" do
    {:ok, srv} = GenServer.start(Counter, 0)
    {:ok, probe, _} = arm(:state, %{process: pid_text(srv)}, "down")
    GenServer.call(srv, {:add, 1})
    GenServer.cast(srv, {:crash, :bye})
    {rows, status} = collect("down", :state)
    assert %{why_ended: :target_down} = status
    assert status.detail =~ "exited: bye"
    assert [%{kind: :call, state_after: 1}, %{kind: :cast, message: {:crash, :bye}, state_before: 1}] = rows
    :ok = :lumin_probe.stop(probe)
  end

  # ---- logs ---------------------------------------------------------------------------------------

  test "logs: K warnings give K rows; lower levels are left out; the handler goes at the end" do
    {:ok, probe, _} = arm(:logs, %{level: "warning"}, "l")
    assert {:error, msg} = arm(:logs, %{level: "info"}, "l2")
    assert msg =~ "already armed"

    k = 4
    for i <- 1..k, do: Logger.warning("lumin probe test #{i}")
    Logger.info("lumin probe test: info is below the level")
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("l", :logs)

    assert Enum.map(rows, & &1.message) == for(i <- 1..k, do: "lumin probe test #{i}")
    me = self()

    for row <- rows do
      assert %{level: :warning, pid: ^me, line: line, file: file, mfa: mfa, metadata: meta} = row
      assert is_integer(line) and String.ends_with?(file, "lumin_probe_test.exs")
      assert mfa =~ "LuminProbeTest."
      assert is_map(meta) and not Map.has_key?(meta, :time)
    end

    refute :lumin_log_probe in :logger.get_handler_ids()
    :ok = :lumin_probe.stop(probe)

    assert {:error, msg} = arm(:logs, %{level: "loud"})
    assert msg =~ "not a log level"
  end

  test "logs: the handler goes when the probe's owner dies" do
    test = self()

    owner =
      spawn(fn ->
        {:ok, probe, _} = :lumin_probe.arm(:logs, "owned", %{level: "error"}, test)
        send(test, {:armed, probe})
        receive do
          :exit -> :ok
        end
      end)

    assert_receive {:armed, probe}
    assert :lumin_log_probe in :logger.get_handler_ids()
    send(owner, :exit)
    wait_until(fn -> not Process.alive?(probe) end)
    refute :lumin_log_probe in :logger.get_handler_ids()
  end

  # ---- telemetry ------------------------------------------------------------------------------------

  test "telemetry: refused without :telemetry; with it, one row per event on exact event names" do
    refute Code.ensure_loaded?(:telemetry)
    assert {:error, msg} = arm(:telemetry, %{prefixes: ["lumin_test_app.orders.stop"]})
    assert msg =~ "no :telemetry library"

    define_fake_telemetry()

    try do
      assert {:error, msg} = arm(:telemetry, %{prefixes: ["lumin_test_app.lumin_no_such_event_zz"]})
      assert msg =~ "`lumin_no_such_event_zz` is not an atom"

      events = ["[:lumin_test_app, :orders, :stop]", "lumin_test_app.orders.start"]
      {:ok, probe, _} = arm(:telemetry, %{prefixes: events}, "t")
      for i <- 1..3, do: telemetry_execute([:lumin_test_app, :orders, :stop], %{duration: i}, %{order: i})
      telemetry_execute([:lumin_test_app, :orders, :start], %{system_time: 1}, %{})
      telemetry_execute([:lumin_test_app, :orders], %{}, %{})
      :ok = :lumin_probe.disarm(probe)
      {rows, _} = collect("t", :telemetry)

      assert Enum.map(rows, & &1.event) ==
               List.duplicate("[:lumin_test_app, :orders, :stop]", 3) ++ ["[:lumin_test_app, :orders, :start]"]
      assert Enum.map(rows, & &1.measurements) ==
               [%{duration: 1}, %{duration: 2}, %{duration: 3}, %{system_time: 1}]
      assert Enum.map(rows, & &1.metadata) == [%{order: 1}, %{order: 2}, %{order: 3}, %{}]
      assert Enum.all?(rows, &(&1.pid == self()))
      assert :persistent_term.get(:lumin_fake_telemetry, %{}) == %{}
      :ok = :lumin_probe.stop(probe)
    after
      :persistent_term.erase(:lumin_fake_telemetry)
      :code.purge(:telemetry)
      :code.delete(:telemetry)
      :code.purge(:telemetry)
    end
  end

  # ---- metrics --------------------------------------------------------------------------------------

  test "metrics: samples with sane values; scheduler_wall_time is restored" do
    before = :erlang.statistics(:scheduler_wall_time)
    {:ok, probe, _} = arm(:metrics, %{interval_ms: 100}, "mt")
    Process.sleep(470)
    :ok = :lumin_probe.disarm(probe)
    {rows, _} = collect("mt", :metrics)

    assert length(rows) in 3..5
    times = Enum.map(rows, & &1.time_us)
    assert times == Enum.sort(times)

    for r <- rows do
      assert r.memory_total > r.memory_processes and r.memory_processes > 0
      assert r.memory_binary > 0 and r.memory_ets > 0 and r.memory_atom > 0 and r.memory_code > 0
      assert r.process_count > 10 and r.port_count >= 0 and r.run_queue >= 0
      assert r.scheduler_utilization >= 0.0 and r.scheduler_utilization <= 1.0
      assert r.reductions_per_s > 0 and r.io_in_bytes_per_s >= 0 and r.io_out_bytes_per_s >= 0
    end

    assert :erlang.statistics(:scheduler_wall_time) == before
    :ok = :lumin_probe.stop(probe)
  end

  test "metrics: samples keep to the interval over 2 s, even after the probe was held up" do
    {:ok, probe, _} = arm(:metrics, %{interval_ms: 200, time_ms: 2100}, "mgrid")
    # Held up for a while (a long flush, a busy scheduler): the samples that follow keep to the grid, the
    # ticks missed are skipped rather than sent all at once.
    Process.sleep(500)
    :erlang.suspend_process(probe)
    Process.sleep(400)
    :erlang.resume_process(probe)
    {rows, status} = collect("mgrid", :metrics)
    assert %{why_ended: :time} = status

    times = Enum.map(rows, &round(&1.time_us))
    # 10 ticks in 2.1 s; of the two the hold-up covered, one comes late and one is skipped.
    assert length(rows) in 8..10, "#{length(rows)} samples at #{inspect(times)}"
    gaps = Enum.zip_with(tl(times), times, &(&1 - &2))
    assert Enum.all?(gaps, &(&1 >= 80_000)), "samples bunched: gaps #{inspect(gaps)} µs"

    # Each sample on the grid the first one started: off by at most 40 ms, except the one that came late.
    [first | _] = times
    off = for t <- times, do: abs(rem(t - first + 100_000, 200_000) - 100_000)
    assert Enum.count(off, &(&1 > 40_000)) <= 1, "off the 200 ms grid by #{inspect(off)} µs"
    :ok = :lumin_probe.stop(probe)
  end

  test "metrics: the time budget ends the probe by itself" do
    {:ok, probe, _} = arm(:metrics, %{interval_ms: 100, time_ms: 300}, "mtime")
    {rows, status} = collect("mtime", :metrics)
    assert %{why_ended: :time, state: :ended} = status
    assert status.detail =~ "time budget of 0.3 s"
    assert length(rows) in 2..3
    :ok = :lumin_probe.stop(probe)
  end

  # ---- stop -------------------------------------------------------------------------------------------

  test "stop/1 on armed probes removes everything they set" do
    {:ok, srv} = Counter.start_link()
    {:ok, door} = Door.start()
    {:ok, m, _} = arm(:messages, %{process: pid_text(srv)}, "x1")
    {:ok, s, _} = arm(:state, %{process: pid_text(door)}, "x2")
    {:ok, l, _} = arm(:logs, %{level: "debug"}, "x3")
    {:ok, mt, _} = arm(:metrics, %{}, "x4")
    {:ok, p, _} = arm(:procs, %{process: pid_text(door)}, "x5")
    assert :erlang.trace_info(srv, :tracer) != {:tracer, []}
    assert sys_debug(door) != []

    for probe <- [m, s, l, mt, p], do: :ok = :lumin_probe.stop(probe)

    assert :erlang.trace_info(srv, :tracer) == {:tracer, []}
    assert sys_debug(door) == []
    refute :lumin_log_probe in :logger.get_handler_ids()
    assert :erlang.statistics(:scheduler_wall_time) == :undefined
    assert nothing_traced()
    for probe <- [m, s, l, mt, p], do: refute(Process.alive?(probe))
  end

  # ---- helpers ------------------------------------------------------------------------------------

  defp arm(kind, spec, name \\ "p"),
    do: :lumin_probe.arm(kind, name, Map.put_new(spec, :target, "test"), self())

  defp pid_text(pid), do: pid |> :erlang.pid_to_list() |> List.to_string()

  # Batches until the probe's `ended` status (which follows its last batch), acknowledged as the bridge does.
  defp collect(name, kind, acc \\ []) do
    receive do
      {:lumin_event, :probe_batch, %{name: ^name, kind: ^kind, batch: batch, from: from}} ->
        send(from, {:lumin_ack, name})
        collect(name, kind, [decode(batch, kind) | acc])

      {:lumin_event, :probe_status, %{name: ^name, state: :ended} = status} ->
        {acc |> Enum.reverse() |> Enum.concat(), status}

      {:lumin_event, :probe_status, %{name: ^name}} ->
        collect(name, kind, acc)
    after
      5000 -> flunk("probe #{name} did not end")
    end
  end

  defp decode(batch, kind) do
    %{kind: ^kind, dropped: 0, rows: rows} = LuminTest.Batch.decode(batch, @columns[kind])
    rows
  end

  defp sys_debug(pid) do
    {:status, _, _, [_pdict, _sys_state, _parent, debug, _misc]} = :sys.get_status(pid)
    debug
  end

  defp nothing_traced do
    :erlang.trace_info(:new, :tracer) == {:tracer, []} and
      Enum.all?(Process.list(), &(:erlang.trace_info(&1, :tracer) in [{:tracer, []}, :undefined]))
  end

  defp wait_until(fun, tries \\ 200) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition not met")
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end

  # Called through apply/3: :telemetry exists only once the test has defined it.
  defp telemetry_execute(event, measurements, metadata),
    do: apply(:telemetry, :execute, [event, measurements, metadata])

  # A stand-in for :telemetry (this node has no Hex packages), with the same API the probe uses.
  defp define_fake_telemetry do
    defmodule :telemetry do
      def attach_many(id, events, fun, config) do
        handlers = :persistent_term.get(:lumin_fake_telemetry, %{})

        if Map.has_key?(handlers, id) do
          {:error, :already_exists}
        else
          :persistent_term.put(:lumin_fake_telemetry, Map.put(handlers, id, {events, fun, config}))
        end
      end

      def detach(id) do
        handlers = :persistent_term.get(:lumin_fake_telemetry, %{})
        :persistent_term.put(:lumin_fake_telemetry, Map.delete(handlers, id))
      end

      def execute(event, measurements, metadata) do
        for {_id, {events, fun, config}} <- :persistent_term.get(:lumin_fake_telemetry, %{}), event in events do
          fun.(event, measurements, metadata, config)
        end

        :ok
      end
    end
  end
end

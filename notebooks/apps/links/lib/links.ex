defmodule Links.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args), do: Supervisor.start_link([Links.Arena], strategy: :one_for_one, name: Links.Supervisor)
end

defmodule Links.Arena do
  @moduledoc """
  Every scenario's processes are spawned by this process (or by processes it spawned), so one process probe on
  `Links.Arena` sees them all. The arena itself is never linked to them: it survives every scenario.
  """
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  @doc "Plays a scenario of Links.Scenarios in a fresh process; returns which of its processes are alive after it."
  def play(scenario), do: GenServer.call(__MODULE__, {:play, scenario})

  @doc "Runs `fun` in a fresh process registered as `name` (spawned by the arena, not linked to it); returns its pid."
  def spawn_named(name, fun), do: GenServer.call(__MODULE__, {:spawn, name, fun})

  @impl true
  def init(:ok), do: {:ok, nil}

  @impl true
  def handle_call({:play, scenario}, from, state) do
    spawn(fn -> GenServer.reply(from, Links.Scenarios.play(scenario)) end)
    {:noreply, state}
  end

  def handle_call({:spawn, name, fun}, _from, state) do
    pid = spawn(fn -> receive(do: (:go -> fun.())) end)
    Process.register(pid, name)
    send(pid, :go)
    {:reply, pid, state}
  end
end

defmodule Links.Scenarios do
  @moduledoc """
  Each scenario registers its processes under names like `Links.Trap.Parent`, so the process probe's rows
  name them, then returns `%{name => alive?}` a moment after the exit signals have travelled.
  """

  @doc "The scenarios, in the order the tour plays them."
  def all, do: [:crash, :trap, :normal, :shutdown, :kill, :monitor]

  def play(:crash) do
    # The parent does not trap exits; its linked child crashes.
    pair(Links.Crash, false, fn -> exit(:boom) end)
  end

  def play(:trap) do
    # The parent traps exits: the child's exit signal becomes a message.
    pair(Links.Trap, true, fn -> exit(:boom) end)
  end

  def play(:normal) do
    # The child finishes normally: an exit signal with reason :normal does not kill a linked process.
    pair(Links.Normal, false, fn -> :done end)
  end

  def play(:shutdown) do
    # Someone else asks the child to shut down; the parent does not trap exits.
    pair(Links.Shutdown, false, fn -> receive(do: (:never -> :ok)) end, fn %{child: c} -> Process.exit(c, :shutdown) end)
  end

  def play(:kill) do
    # The parent traps exits, and is killed; its child does not trap exits.
    pair(Links.Kill, true, fn -> receive(do: (:never -> :ok)) end, fn %{parent: p} -> Process.exit(p, :kill) end)
  end

  def play(:monitor) do
    # The watcher monitors (no link) a child that crashes.
    me = self()
    watcher =
      spawn(fn ->
        Process.register(self(), Links.Monitor.Watcher)
        child = spawn(fn -> Process.register(self(), Links.Monitor.Child); receive(do: (:crash -> exit(:boom))) end)
        ref = Process.monitor(child)
        send(me, {:ready, child})
        receive do
          {:DOWN, ^ref, :process, _, reason} -> send(me, {:watcher_got, {:DOWN, reason}})
        end

        receive(do: (:stop -> :ok))
      end)

    receive do
      {:ready, child} ->
        send(child, :crash)
        got = receive(do: ({:watcher_got, m} -> m))
        report([Links.Monitor.Watcher, Links.Monitor.Child], %{parent: watcher, child: child}, got)
    end
  end

  # A parent (trapping exits or not) with a linked child running `child_fun`; `then` acts on them once both run.
  defp pair(prefix, trap?, child_fun, then \\ fn _ -> :ok end) do
    me = self()
    [parent_name, child_name] = [Module.concat(prefix, Parent), Module.concat(prefix, Child)]

    parent =
      spawn(fn ->
        Process.register(self(), parent_name)
        Process.flag(:trap_exit, trap?)
        child = spawn_link(fn -> Process.register(self(), child_name); receive(do: (:go -> child_fun.())) end)
        send(me, {:ready, child})
        # A trapping parent reports the exit message it gets; then it waits to be stopped.
        if trap?, do: receive(do: ({:EXIT, ^child, reason} -> send(me, {:parent_got, {:EXIT, :child, reason}})))
        receive(do: (:stop -> :ok))
      end)

    receive do
      {:ready, child} ->
        pids = %{parent: parent, child: child}
        send(child, :go)
        then.(pids)
        got = receive(do: ({:parent_got, m} -> m), after: (100 -> nil))
        report([parent_name, child_name], pids, got)
    end
  end

  defp report([parent_name, child_name], %{parent: parent, child: child}, got) do
    Process.sleep(20)
    result = %{parent_name => Process.alive?(parent), child_name => Process.alive?(child), message: got}
    # The survivors finish normally, so every process of the scenario ends with an exit row.
    for p <- [parent, child], Process.alive?(p), do: send(p, :stop)
    result
  end
end

defmodule Tasks.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [{Task.Supervisor, name: Tasks.TaskSupervisor}, Tasks.Arena]
    Supervisor.start_link(children, strategy: :one_for_one, name: Tasks.Supervisor)
  end
end

defmodule Tasks.Work do
  @moduledoc "A job: job `i` takes `ms` milliseconds and returns `i` (a call probe on run/2 times each one)."
  def run(i, ms) do
    Process.sleep(ms)
    i
  end

  @doc "Job `i` crashes with reason :boom."
  def crash(_i), do: exit(:boom)
end

defmodule Tasks.Demo do
  @moduledoc "The tour's experiments, one line each from the notebook."

  @doc """
  Runs jobs of the given durations (ms) through Task.async_stream with `opts`, numbering them from `first + 1`;
  returns what the stream gave, in the order it gave it: the job's number, or `{:exit, reason}`.
  """
  def stream(durations, first, opts) do
    durations
    |> Enum.with_index(first + 1)
    |> Task.async_stream(fn {ms, i} -> Tasks.Work.run(i, ms) end, opts)
    |> Enum.map(fn
      {:ok, i} -> i
      {:exit, reason} -> {:exit, reason}
    end)
  end
end

defmodule Tasks.Arena do
  @moduledoc """
  Starts callers — processes registered as `name` running `fun` — that are not linked to anything of the
  app's, so a caller may die without taking anything else down. A process probe on `app:tasks` sees them.
  """
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  @doc "Runs `fun` in a caller registered as `name`; returns `{:returned, value}` or `{:died, reason}`."
  def run_caller(name, fun, timeout \\ 2_000) do
    pid = GenServer.call(__MODULE__, {:spawn, name, fun, self()})
    ref = Process.monitor(pid)

    receive do
      {:result, ^pid, value} -> {:returned, value}
      {:DOWN, ^ref, :process, _, reason} -> {:died, reason}
    after
      timeout -> {:still_running, pid}
    end
  end

  @impl true
  def init(:ok), do: {:ok, nil}

  @impl true
  def handle_call({:spawn, name, fun, reply_to}, _from, state) do
    pid = spawn(fn -> receive(do: (:go -> send(reply_to, {:result, self(), fun.()}))) end)
    Process.register(pid, name)
    send(pid, :go)
    {:reply, pid, state}
  end
end

defmodule Genservers.Counter do
  @moduledoc """
  A counter with a slow start: `init/1` returns at once and asks for `handle_continue(:load, …)`, which takes
  200 ms (standing in for loading data). Casts add, `:tick` messages count ticks, calls read, and
  `{:slow, ms}` answers after `ms` milliseconds.
  """
  use GenServer

  @load_ms 200

  def start, do: GenServer.start(__MODULE__, :ok, name: __MODULE__)
  def add(n), do: GenServer.cast(__MODULE__, {:add, n})
  def count, do: GenServer.call(__MODULE__, :count)
  def slow(ms, timeout), do: GenServer.call(__MODULE__, {:slow, ms}, timeout)

  @impl true
  def init(:ok), do: {:ok, %{count: 0, ticks: 0, loaded: false}, {:continue, :load}}

  @impl true
  def handle_continue(:load, state) do
    Process.sleep(@load_ms)
    {:noreply, %{state | loaded: true}}
  end

  @impl true
  def handle_call(:count, _from, state), do: {:reply, state.count, state}

  def handle_call({:slow, ms}, _from, state) do
    Process.sleep(ms)
    {:reply, :done, state}
  end

  @impl true
  def handle_cast({:add, n}, state), do: {:noreply, %{state | count: state.count + n}}

  @impl true
  def handle_info(:tick, state), do: {:noreply, %{state | ticks: state.ticks + 1}}
end

defmodule Genservers.Caller do
  @moduledoc """
  A process registered as `Genservers.Caller` that, told `{:call_slow, ms, timeout, from}`, calls the counter's
  `{:slow, ms}` with `timeout`, catches the exit when it gives up, then waits a second for anything else to
  arrive and reports `{:caller, result, late_messages}` to `from`.
  """
  def start do
    pid = spawn(&loop/0)
    Process.register(pid, __MODULE__)
    pid
  end

  defp loop do
    receive do
      {:call_slow, ms, timeout, from} ->
        result =
          try do
            Genservers.Counter.slow(ms, timeout)
          catch
            :exit, {:timeout, _} -> :timeout
          end

        send(from, {:caller, result, late_messages(1_000)})
        loop()
    end
  end

  defp late_messages(wait_ms) do
    receive do
      message -> [message | late_messages(0)]
    after
      wait_ms -> []
    end
  end
end

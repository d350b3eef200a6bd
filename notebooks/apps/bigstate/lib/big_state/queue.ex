defmodule BigState.Queue do
  @moduledoc """
  A queue process with a big state: `messages` holds ~40 MB (`size_mb` chosen at start, default 40) of
  entries, `len` counts the casts it took. `snapshot/0` replies with the whole state (as a `handle_call`
  that returns its state does); `publish/1` is a cast that bumps `len`; `publish_many/1` sends N casts and
  waits until the queue has handled them all (so a test can time the workload).
  """
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, 40, name: __MODULE__)

  @doc "The whole state: ~40 MB copied to the caller."
  def snapshot, do: GenServer.call(__MODULE__, :snapshot, 60_000)

  @doc "How many casts it has handled."
  def len, do: GenServer.call(__MODULE__, :len, 60_000)

  def publish(msg), do: GenServer.cast(__MODULE__, {:publish, msg})

  @doc "N casts, then a call that returns once they are all handled; the elapsed milliseconds."
  def publish_many(n) do
    t0 = System.monotonic_time(:millisecond)
    for i <- 1..n, do: publish(i)
    len()
    System.monotonic_time(:millisecond) - t0
  end

  @impl true
  def init(size_mb) do
    # Entries of ~135 bytes of heap each (map slot, tuple, a 55-byte heap binary): 7,500 of them make a MB.
    messages = Map.new(1..(size_mb * 7_500), fn i -> {i, {:msg, i, "payload-#{i}-" <> String.duplicate("x", 40)}} end)
    {:ok, %{messages: messages, queue: %{len: 0, last: nil}}}
  end

  @impl true
  def handle_call(:snapshot, _from, state), do: {:reply, state, state}
  def handle_call(:len, _from, state), do: {:reply, state.queue.len, state}

  @impl true
  def handle_cast({:publish, msg}, state), do: {:noreply, %{state | queue: %{len: state.queue.len + 1, last: msg}}}
end

defmodule Overload.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [Overload.Naive, Overload.Demand.Buffer, Overload.Demand.Worker, Overload.Shedding]
    Supervisor.start_link(children, strategy: :one_for_one, name: Overload.Supervisor)
  end
end

defmodule Overload.Work do
  @moduledoc """
  One job: 3 ms of sleep (a little more in practice: the timer rounds up to its next tick). `job` is `{approach, n}` and `created_us` when the producer made it (µs since the
  epoch, the clock probes use), so a call probe with --args on handle/2 gives each job's latency.
  """
  @work_ms 3

  def handle(_job, _created_us), do: Process.sleep(@work_ms)

  @doc "A job refused by load shedding (a call probe counts them)."
  def refuse(_job, _created_us), do: :refused

  def now_us, do: System.os_time(:microsecond)
end

defmodule Overload.Naive do
  @moduledoc "Takes every job it is sent (a cast) and works through them in order: nothing limits its mailbox."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)
  def offer(job), do: GenServer.cast(__MODULE__, {:job, job, Overload.Work.now_us()})

  @impl true
  def init(:ok), do: {:ok, nil}

  @impl true
  def handle_cast({:job, job, created}, s), do: (Overload.Work.handle(job, created); {:noreply, s})

  @impl true
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}
end

defmodule Overload.Demand.Buffer do
  @moduledoc """
  A bounded queue between the producer and a worker that pulls (GenStage's demand, in plain OTP). `offer/1` is
  a call answered only when there is room: a producer faster than the worker is held in `offer/1`, so it slows
  to the worker's pace. The worker asks for the next job when it is ready (`take/0`).
  """
  use GenServer

  @max 20

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)
  def offer(job), do: GenServer.call(__MODULE__, {:offer, job, Overload.Work.now_us()}, :infinity)
  def take, do: GenServer.call(__MODULE__, :take, :infinity)

  @impl true
  def init(:ok), do: {:ok, %{jobs: :queue.new(), size: 0, producers: :queue.new(), worker: nil}}

  @impl true
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}

  # Room: accept the job (straight to a waiting worker if there is one). No room: the producer waits.
  def handle_call({:offer, job, created}, _from, %{worker: w} = s) when w != nil do
    GenServer.reply(w, {job, created})
    {:reply, :ok, %{s | worker: nil}}
  end

  def handle_call({:offer, job, created}, _from, %{size: n} = s) when n < @max,
    do: {:reply, :ok, %{s | jobs: :queue.in({job, created}, s.jobs), size: n + 1}}

  def handle_call({:offer, job, created}, from, s),
    do: {:noreply, %{s | producers: :queue.in({from, {job, created}}, s.producers)}}

  # The worker's demand: the oldest job, and a waiting producer's job takes the freed place.
  def handle_call(:take, from, %{size: 0} = s), do: {:noreply, %{s | worker: from}}

  def handle_call(:take, _from, s) do
    {{:value, next}, jobs} = :queue.out(s.jobs)

    case :queue.out(s.producers) do
      {{:value, {producer, waiting}}, producers} ->
        GenServer.reply(producer, :ok)
        {:reply, next, %{s | jobs: :queue.in(waiting, jobs), producers: producers}}

      {:empty, _} ->
        {:reply, next, %{s | jobs: jobs, size: s.size - 1}}
    end
  end
end

defmodule Overload.Demand.Worker do
  @moduledoc "Pulls one job at a time from Overload.Demand.Buffer and works on it."
  def child_spec(_), do: %{id: __MODULE__, start: {__MODULE__, :start_link, []}}

  def start_link do
    pid = spawn_link(fn -> loop() end)
    Process.register(pid, __MODULE__)
    {:ok, pid}
  end

  defp loop do
    {job, created} = Overload.Demand.Buffer.take()
    Overload.Work.handle(job, created)
    loop()
  end
end

defmodule Overload.Shedding do
  @moduledoc """
  The naive server with load shedding: before sending, `offer/2` looks at the server's mailbox, and past
  `limit` jobs waiting it refuses the job at once (`{:error, :overloaded}`) instead of queueing it.
  """
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  def offer(job, limit) do
    created = Overload.Work.now_us()

    case Process.info(Process.whereis(__MODULE__), :message_queue_len) do
      {:message_queue_len, n} when n >= limit -> Overload.Work.refuse(job, created) && {:error, :overloaded}
      _ -> GenServer.cast(__MODULE__, {:job, job, created})
    end
  end

  @impl true
  def init(:ok), do: {:ok, nil}

  @impl true
  def handle_cast({:job, job, created}, s), do: (Overload.Work.handle(job, created); {:noreply, s})

  @impl true
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}
end

defmodule Overload.Load do
  @moduledoc """
  Offers `jobs` jobs (300) in batches of 10 every 10 ms (one a millisecond: three times what a 3 ms worker handles)
  to one approach, while a pinger calls the server every 50 ms with a 500 ms timeout. Returns when every job
  is done or refused.
  """
  @servers %{naive: Overload.Naive, demand: Overload.Demand.Buffer, shedding: Overload.Shedding}

  def run(approach, opts \\ []) do
    jobs = Keyword.get(opts, :jobs, 300)
    limit = Keyword.get(opts, :limit, 20)
    tag = Keyword.get(opts, :tag, approach)
    server = Map.fetch!(@servers, approach)
    started = System.monotonic_time(:millisecond)
    pinger = spawn_link(fn -> ping_loop(tag, server) end)

    refused =
      for batch <- Enum.chunk_every(1..jobs, 10), reduce: 0 do
        refused ->
          r = Enum.count(batch, fn n -> offer(approach, {tag, n}, limit) != :ok end)
          Process.sleep(10)
          refused + r
      end

    produced = System.monotonic_time(:millisecond)
    # Every job offered is done once the server answers a call queued behind them.
    GenServer.call(server, :ping, :infinity)
    if approach == :demand, do: drain()
    send(pinger, :stop)
    %{jobs: jobs, refused: refused, producer_ms: produced - started, total_ms: System.monotonic_time(:millisecond) - started}
  end

  defp offer(:naive, job, _), do: Overload.Naive.offer(job)
  defp offer(:demand, job, _), do: Overload.Demand.Buffer.offer(job)
  defp offer(:shedding, job, limit), do: Overload.Shedding.offer(job, limit)

  # The demand buffer is empty once the worker has asked and waits.
  defp drain do
    case :sys.get_state(Overload.Demand.Buffer) do
      %{worker: w} when w != nil -> :ok
      _ -> Process.sleep(5) && drain()
    end
  end

  defp ping_loop(tag, server) do
    receive do
      :stop -> :ok
    after
      50 ->
        ping(tag, server)
        ping_loop(tag, server)
    end
  end

  @doc "A health check: a call with a 500 ms timeout (a call probe on ping/2 times it; a timeout is an exception)."
  def ping(_tag, server) do
    GenServer.call(server, :ping, 500)
  catch
    :exit, {:timeout, _} -> :timeout
  end
end

defmodule Mailboxes.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    Supervisor.start_link([Mailboxes.Echo], strategy: :one_for_one, name: Mailboxes.Supervisor)
  end
end

defmodule Mailboxes.Echo do
  @moduledoc "A plain process (no GenServer) that answers `{from, tag}` with `{tag, :pong}`."
  def child_spec(_), do: %{id: __MODULE__, start: {__MODULE__, :start_link, []}}

  def start_link do
    pid = spawn_link(&loop/0)
    Process.register(pid, __MODULE__)
    {:ok, pid}
  end

  defp loop do
    receive do
      {from, tag} -> send(from, {tag, :pong})
    end

    loop()
  end
end

defmodule Mailboxes.Lab do
  @moduledoc """
  Experiments on one process's mailbox. Each runs in a fresh process, which first fills its own mailbox with
  `noise` messages nobody will ever match, so that what follows waits behind a queue of that length.
  """

  @doc """
  Starts `Mailboxes.Picky`, a process that waits for `{:go, from}`, then for `:c`, then takes the next two
  messages whatever they are, and sends `from` the order it took them in. It calls `took/1` with each
  message as it takes it, so a call probe on `took/1` sees the order messages leave the mailbox.
  """
  def start_picky do
    pid =
      spawn(fn ->
        from = receive do: ({:go, from} -> took(:go) && from)
        c = receive do: (:c -> took(:c))
        rest = for _ <- 1..2, do: receive(do: (m -> took(m)))
        send(from, {:picky, [:go, c | rest]})
      end)

    Process.register(pid, Mailboxes.Picky)
    pid
  end

  def took(message), do: message

  @doc "Sends Picky :a, :b, :c and then :go — in that order — and returns the order it took them in."
  def send_to_picky do
    for m <- [:a, :b, :c], do: send(Mailboxes.Picky, m)
    send(Mailboxes.Picky, {:go, self()})
    receive do: ({:picky, order} -> order)
  end

  @doc "A receive for :wanted, which arrives after `noise` other messages: it scans all of them first."
  def selective_receive(noise) do
    run(fn ->
      fill(noise)
      send(self(), :wanted)
      wait_for_wanted(noise)
    end)
  end

  # The argument is only there so that a call probe with --args records the queue length beside the time.
  def wait_for_wanted(_queue_length) do
    receive do
      :wanted -> :ok
    end
  end

  @doc "A request/reply with a fresh reference, as GenServer.call does, behind `noise` other messages."
  def tagged_reply(noise) do
    run(fn ->
      fill(noise)
      wait_for_reply(Mailboxes.Echo, noise)
    end)
  end

  # make_ref/0 and the receive matching it in the same function: the compiler marks the queue when the
  # reference is made, and the receive starts scanning there — every older message is skipped at once.
  def wait_for_reply(server, _queue_length) do
    ref = make_ref()
    send(server, {self(), ref})

    receive do
      {^ref, reply} -> reply
    end
  end

  @doc "Runs `fun` in a fresh process and returns its result (the process's mailbox dies with it)."
  def run(fun, timeout \\ 5_000) do
    task = Task.async(fun)
    Task.await(task, timeout)
  end

  def fill(noise), do: Enum.each(1..noise//1, &send(self(), {:noise, &1}))
end

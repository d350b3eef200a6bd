defmodule Supervisors.Application do
  @moduledoc """
  Supervisors.Top (one_for_one)
  ├── Supervisors.OneForOne (one_for_one): A, B, C
  ├── Supervisors.OneForAll (one_for_all): A, B, C
  ├── Supervisors.RestForOne (rest_for_one): A, B, C
  ├── Supervisors.Team (one_for_one, max_restarts: 3 in max_seconds: 5): Flaky
  └── Supervisors.Playground (a DynamicSupervisor, for the exercise)
  """
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      trio(Supervisors.OneForOne, :one_for_one),
      trio(Supervisors.OneForAll, :one_for_all),
      trio(Supervisors.RestForOne, :rest_for_one),
      supervisor(Supervisors.Team, [worker(Supervisors.Team.Flaky)], strategy: :one_for_one, max_restarts: 3, max_seconds: 5),
      {DynamicSupervisor, name: Supervisors.Playground, strategy: :one_for_one}
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Supervisors.Top)
  end

  # A supervisor `name` with three workers, started in the order A, B, C.
  defp trio(name, strategy) do
    supervisor(name, for(w <- [A, B, C], do: worker(Module.concat(name, w))), strategy: strategy)
  end

  def supervisor(name, children, opts) do
    %{id: name, type: :supervisor, start: {Supervisor, :start_link, [children, [name: name] ++ opts]}}
  end

  def worker(name), do: Supervisor.child_spec({Supervisors.Worker, name}, id: name)
end

defmodule Supervisors.Worker do
  @moduledoc "A worker registered under `name` that does nothing until told to crash (`crash/1`: it stops with :boom)."
  use GenServer

  def start_link(name), do: GenServer.start_link(__MODULE__, name, name: name)

  @doc "Crash the worker registered as `name`, and wait until its supervisor has replaced it (or given up)."
  def crash(name) do
    old = Process.whereis(name)
    ref = Process.monitor(old)
    GenServer.cast(name, :crash)
    receive do: ({:DOWN, ^ref, _, _, _} -> :ok)
    wait_for_new(name, old, 100)
  end

  defp wait_for_new(_name, _old, 0), do: :not_restarted

  defp wait_for_new(name, old, tries) do
    case Process.whereis(name) do
      pid when is_pid(pid) and pid != old -> :restarted
      _ -> Process.sleep(5) && wait_for_new(name, old, tries - 1)
    end
  end

  @impl true
  def init(name), do: {:ok, name}

  @impl true
  def handle_cast(:crash, name), do: {:stop, :boom, name}
end

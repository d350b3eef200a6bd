defmodule BigState.Application do
  @moduledoc "BigState.Supervisor → BigState.Queue (the big GenServer)."
  use Application

  @impl true
  def start(_type, _args) do
    Supervisor.start_link([BigState.Queue], strategy: :one_for_one, name: BigState.Supervisor)
  end
end

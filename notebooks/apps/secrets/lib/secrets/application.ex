defmodule Secrets.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    Supervisor.start_link([Secrets.Vault], strategy: :one_for_one, name: Secrets.Supervisor)
  end
end

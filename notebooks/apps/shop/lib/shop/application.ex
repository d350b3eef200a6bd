defmodule Shop.Application do
  @moduledoc "Shop.Supervisor (one_for_one) → Shop.Inventory, Shop.Orders, Shop.Workers (a DynamicSupervisor)."
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      Shop.Inventory,
      Shop.Orders,
      {DynamicSupervisor, name: Shop.Workers, strategy: :one_for_one},
      Shop.Flaky
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Shop.Supervisor, max_restarts: 100, max_seconds: 1)
  end
end

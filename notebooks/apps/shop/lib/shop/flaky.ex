defmodule Shop.Flaky do
  @moduledoc "A worker that crashes when asked: `Shop.Flaky.crash()` makes its supervisor restart it."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)
  def crash, do: GenServer.cast(__MODULE__, :crash)

  @impl true
  def init(:ok), do: {:ok, 0}

  @impl true
  def handle_cast(:crash, _), do: raise("crashed on purpose")
end

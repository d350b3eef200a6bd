defmodule Shop.Inventory do
  @moduledoc "Stock per item, a GenServer: calls (reserve, stock) and casts (restock)."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: __MODULE__)
  def stock(item), do: GenServer.call(__MODULE__, {:stock, item})
  def reserve(item, qty), do: GenServer.call(__MODULE__, {:reserve, item, qty})
  def restock(item, qty), do: GenServer.cast(__MODULE__, {:restock, item, qty})

  @impl true
  def init(stock), do: {:ok, stock}

  @impl true
  def handle_call({:stock, item}, _from, stock), do: {:reply, Map.get(stock, item, 0), stock}

  def handle_call({:reserve, item, qty}, _from, stock) do
    have = Map.get(stock, item, 0)
    if have >= qty,
      do: {:reply, :ok, Map.put(stock, item, have - qty)},
      else: {:reply, {:error, :out_of_stock}, stock}
  end

  @impl true
  def handle_cast({:restock, item, qty}, stock), do: {:noreply, Map.update(stock, item, qty, &(&1 + qty))}
end

defmodule Shop.Orders do
  @moduledoc """
  Places orders. The planted slow path: an order of more than 100 units takes a "manual review" of
  20–40 ms — the latency spike the latency-spike investigation finds, in total/2 (a function of its own, so
  the what-if investigation can replay it with a patched module).
  """
  use GenServer
  require Logger

  def start_link(_), do: GenServer.start_link(__MODULE__, 0, name: __MODULE__)

  @doc "Place an order: price it, reserve stock, count it. Returns {:ok, total} or {:error, reason}."
  def place(item, qty), do: GenServer.call(__MODULE__, {:place, item, qty})

  @impl true
  def init(count), do: {:ok, count}

  @impl true
  def handle_call({:place, item, qty}, _from, count) do
    amount = total(item, qty)

    case Shop.Inventory.reserve(item, qty) do
      :ok ->
        Shop.Events.emit([:shop, :order, :placed], %{total: amount, qty: qty}, %{item: item})
        {:reply, {:ok, amount}, count + 1}

      {:error, reason} ->
        Logger.warning("order of #{qty} #{item} refused: #{reason}")
        {:reply, {:error, reason}, count}
    end
  end

  @doc "The total of an order of `qty` units of `item`: its price, after a manual review of bulk orders."
  def total(item, qty) do
    if qty > 100, do: review(item, qty)
    Shop.Pricing.price(item, qty)
  end

  defp review(_item, qty), do: Process.sleep(20 + rem(qty, 21))
end

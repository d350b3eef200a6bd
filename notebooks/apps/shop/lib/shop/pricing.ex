defmodule Shop.Pricing do
  @moduledoc "Pure and fast: each call is one row in a call probe, so tests can count them exactly."

  @doc "Price of `qty` units of `item`, with a volume discount."
  def price(item, qty) when is_binary(item) and is_integer(qty) and qty > 0 do
    base = unit_price(item) * qty
    if qty >= 10, do: div(base * 9, 10), else: base
  end

  def unit_price(item), do: rem(:erlang.phash2(item), 90) + 10
end

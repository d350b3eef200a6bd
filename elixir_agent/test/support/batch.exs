defmodule LuminTest.Batch do
  @moduledoc """
  Reads a batch in the columnar format (kernel/beam/protocol.ts) back into rows, the way the kernel's
  decoder does: the tests of every probe kind check their rows through it.
  """
  import ExUnit.Assertions

  @doc "The batch's kind, dropped count and rows (maps by column name); `columns` must be exactly its columns."
  def decode(batch, columns) do
    %{kind: kind, count: n, dropped: dropped, columns: cols} = :erlang.binary_to_term(batch)
    assert Enum.sort(Map.keys(cols)) == Enum.sort(columns)
    decoded = Map.new(cols, fn {name, col} -> {name, List.to_tuple(column(col, n))} end)
    assert Enum.all?(decoded, fn {_, v} -> tuple_size(v) == n end)
    rows = for i <- 0..(n - 1)//1, do: Map.new(decoded, fn {k, v} -> {k, elem(v, i)} end)
    %{kind: kind, dropped: dropped, rows: rows}
  end

  # NaN (a value not measured) does not match a float segment: it reads as nil, as the kernel shows it.
  defp column({:f64, bin}, _), do: for(<<c::binary-8 <- bin>>, do: (case c do <<x::float-little-64>> -> x; _ -> nil end))
  defp column({:i32, bin}, _), do: for(<<x::signed-little-32 <- bin>>, do: x)
  defp column({:const, v}, n), do: List.duplicate(null(v), n)

  defp column({:dict, values, idx}, _) do
    values = List.to_tuple(values)
    for <<i::little-32 <- idx>>, do: null(elem(values, i))
  end

  defp column({:terms, offsets, data}, _) do
    for(<<o::little-32 <- offsets>>, do: o)
    |> Enum.chunk_every(2, 1, :discard)
    |> Enum.map(fn
      [a, a] -> nil
      [a, b] -> :erlang.binary_to_term(binary_part(data, a, b - a))
    end)
  end

  defp null(:undefined), do: nil
  defp null(v), do: v
end

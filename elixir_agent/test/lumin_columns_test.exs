defmodule LuminColumnsTest do
  @moduledoc "Batches in the columnar format the kernel decodes (kernel/beam/batchDecoder.ts)."
  use ExUnit.Case, async: true

  test "rows become typed columns, repeated values a dictionary (a constant when one value), terms an offsets table" do
    other = spawn(fn -> :ok end)
    b = :lumin_columns.new(node: {:const, :n@h}, pid: :dict, name: :dict, n: :i32, t: :f64, v: :terms)
    b = :lumin_columns.add([:n@h, self(), :a, 1, 1.5, {:ok, 1}], b)
    b = :lumin_columns.add([:n@h, other, :a, -2, 2.0, :undefined], b)
    b = :lumin_columns.add([:n@h, self(), :a, 3, 0.5, :undefined], b)
    assert :lumin_columns.count(b) == 3
    %{kind: :calls, count: 3, dropped: 3, columns: cols} = :erlang.binary_to_term(:lumin_columns.encode(:calls, 3, b))
    assert cols.node == {:const, :n@h}
    assert cols.pid == {:dict, [self(), other], <<0::32-little, 1::32-little, 0::32-little>>}
    assert cols.name == {:const, :a}, "one value in every row goes as a constant, with no index per row"
    assert cols.n == {:i32, <<1::32-signed-little, -2::32-signed-little, 3::32-signed-little>>}
    assert cols.t == {:f64, <<1.5::64-float-little, 2.0::64-float-little, 0.5::64-float-little>>}
    {:terms, <<0::32-little, e1::32-little, e2::32-little, e3::32-little>>, data} = cols.v
    assert :erlang.binary_to_term(binary_part(data, 0, e1)) == {:ok, 1}
    assert e3 == e1 and e2 == e1, "an undefined term is an empty slice (null)"
  end

  test "a big term is cut on the node to a marker with its size and a prefix" do
    big = String.duplicate("x", 100_000)
    assert {:lumin_cut, size, prefix} = :lumin_columns.cut_term(big)
    assert size > 100_000
    assert byte_size(prefix) < 4096
    assert :lumin_columns.cut_term({:small, 1}) == {:small, 1}
  end
end

defmodule LuminColumnsTest do
  @moduledoc "Batches in the columnar format the kernel decodes (kernel/beam/batchDecoder.ts)."
  use ExUnit.Case, async: true

  test "rows become typed columns, repeated values a dictionary, terms an offsets table" do
    b = :lumin_columns.new(node: {:const, :n@h}, pid: :dict, n: :i32, t: :f64, v: :terms)
    b = :lumin_columns.add([:n@h, self(), 1, 1.5, {:ok, 1}], b)
    b = :lumin_columns.add([:n@h, self(), -2, 2.0, :undefined], b)
    assert :lumin_columns.count(b) == 2
    %{kind: :calls, count: 2, dropped: 3, columns: cols} = :erlang.binary_to_term(:lumin_columns.encode(:calls, 3, b))
    assert cols.node == {:const, :n@h}
    assert {:dict, [pid], <<0::32-little, 0::32-little>>} = cols.pid
    assert pid == self()
    assert cols.n == {:i32, <<1::32-signed-little, -2::32-signed-little>>}
    assert cols.t == {:f64, <<1.5::64-float-little, 2.0::64-float-little>>}
    {:terms, <<0::32-little, e1::32-little, e2::32-little>>, data} = cols.v
    assert :erlang.binary_to_term(binary_part(data, 0, e1)) == {:ok, 1}
    assert e2 == e1, "an undefined term is an empty slice (null)"
  end

  test "a big term is cut on the node to a marker with its size and a prefix" do
    big = String.duplicate("x", 100_000)
    assert {:lumin_cut, size, prefix} = :lumin_columns.cut_term(big)
    assert size > 100_000
    assert byte_size(prefix) < 4096
    assert :lumin_columns.cut_term({:small, 1}) == {:small, 1}
  end
end

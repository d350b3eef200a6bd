defmodule LuminBridge.MatchSpecTest do
  @moduledoc "Patterns compile to match specs that the VM itself (match_spec_test) agrees with."
  use ExUnit.Case, async: true
  alias LuminBridge.MatchSpec

  # Which of `calls` (argument lists) the compiled pattern lets through, according to the VM.
  defp matching(text, language, calls) do
    {:ok, clauses} = MatchSpec.compile(text, language)
    ms = for {head, guards} <- clauses, do: {head, guards, [true]}
    Enum.filter(calls, fn args -> match?({:ok, true, _, _}, :erlang.match_spec_test(args, ms, :trace)) end)
  end

  @calls [[1, :a], [11, :b], [42, "x"], [50, {1, 2}], [7], [%{id: 12}, nil]]

  # Guards compare in Erlang's term order, where a map is greater than any number.
  test "an Elixir pattern with a guard" do
    assert matching("[id, _] when id > 10", :elixir, @calls) == [[11, :b], [42, "x"], [50, {1, 2}], [%{id: 12}, nil]]
    assert matching("[id, _] when is_integer(id) and id > 10", :elixir, @calls) == [[11, :b], [42, "x"], [50, {1, 2}]]
  end

  test "an Erlang pattern with a guard" do
    assert matching("[Id, _] when is_integer(Id), Id > 10", :erlang, @calls) == [[11, :b], [42, "x"], [50, {1, 2}]]
    assert matching("[_, b]", :erlang, @calls) == [[11, :b]]
  end

  test "literals, tuples, maps, binaries and repeated variables" do
    assert matching("[_, {a, a}]", :elixir, [[0, {1, 1}], [0, {1, 2}]]) == [[0, {1, 1}]]
    assert matching("[%{id: id}, _] when id >= 12", :elixir, @calls) == [[%{id: 12}, nil]]
    assert matching(~s([_, "x"]), :elixir, @calls) == [[42, "x"]]
    assert matching("[_, :b]", :elixir, @calls) == [[11, :b]]
  end

  test "guards with type checks, boolean operators and guard functions" do
    assert matching("[n, t] when is_integer(n) and is_tuple(t) and tuple_size(t) == 2", :elixir, @calls) == [[50, {1, 2}]]
    assert matching("[n] when n < 5 or n == 7", :elixir, @calls) == [[7]]
    assert matching("[n, s] when is_binary(s) and byte_size(s) == 1", :elixir, @calls) == [[42, "x"]]
  end

  test "a bad pattern is an error that quotes it" do
    assert {:error, msg} = MatchSpec.compile("[x, y] when x >", :elixir)
    assert msg =~ "[x, y] when x >"
  end

  test "the atoms a spec mentions are listed, variables excluded, so the target can be checked first" do
    {:ok, clauses} = MatchSpec.compile("[id, :some_tag] when id > 1", :elixir)
    assert :some_tag in MatchSpec.atoms(clauses)
    refute Enum.any?(MatchSpec.atoms(clauses), &(Atom.to_string(&1) =~ ~r/^\$\d+$/))
  end
end

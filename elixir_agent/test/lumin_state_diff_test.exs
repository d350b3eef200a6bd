defmodule LuminStateDiffTest do
  # The structural diff a state probe ships instead of a big state (lumin_state_diff), and what the watched
  # process's hook ships of a state (lumin_kind_state:shipped/3).
  use ExUnit.Case, async: true

  defp changes(a, b, cut \\ 4096, opts \\ %{}) do
    {:ok, cs} = :lumin_state_diff.changes(a, b, cut, opts)
    cs
  end

  defp text(a, b, root \\ "") do
    :lumin_state_diff.text(changes(a, b), :elixir, root)
  end

  test "maps by key: changed, added and removed values at their paths" do
    a = %{queue: %{len: 3, last: nil}, seen: 1, gone: :x}
    b = %{queue: %{len: 4, last: 7}, seen: 1, new: [1]}
    assert Enum.sort(changes(a, b)) ==
             Enum.sort([
               {:changed, [{:key, :queue}, {:key, :len}], 3, 4},
               {:changed, [{:key, :queue}, {:key, :last}], nil, 7},
               {:added, [{:key, :new}], [1]},
               {:removed, [{:key, :gone}], :x}
             ])
    t = text(a, b)
    assert t =~ "queue.len: 3 → 4"
    assert t =~ "queue.last: nil → 7"
    assert t =~ "new: added [1]"
    assert t =~ "gone: removed :x"
  end

  test "equal states: no change; a scalar state: one change at the root" do
    assert changes(%{a: 1}, %{a: 1}) == []
    assert text(%{a: 1}, %{a: 1}) == "(unchanged)"
    assert changes(1, 2) == [{:changed, [], 1, 2}]
    assert text(1, 2) == "state: 1 → 2"
    # Under a --path, paths start from it.
    assert text(1, 2, "queue.len") == "queue.len: 1 → 2"
    assert text(%{len: 1}, %{len: 2}, "queue") == "queue.len: 1 → 2"
  end

  test "records and tuples by position from 1, non-atom keys in brackets, lists by position" do
    assert text({:state, 1, "a"}, {:state, 2, "a"}) == ".2: 1 → 2" |> String.trim_leading(".")
    assert text(%{"k" => 1}, %{"k" => 2}) == ~s([\"k\"]: 1 → 2)
    assert changes([1, 2, 3], [1, 9, 3]) == [{:changed, [{:nth, 2}], 2, 9}]
    # One element put in or taken out: that one change, not every position after it.
    assert changes([2, 3, 4], [1, 2, 3, 4]) == [{:added, [{:nth, 1}], 1}]
    assert changes([1, 2, 3, 4], [1, 3, 4]) == [{:removed, [{:nth, 2}], 2}]
    # A list that grows at its end: its rest as added.
    assert changes([1, 2], [1, 2, 3, 4]) == [{:added, [{:nth, 3}], [3, 4]}]
    assert changes([1, 2, 3], [1]) == [{:removed, [{:nth, 2}], [2, 3]}]
    assert text(%{items: [1, 2]}, %{items: [1, 5]}) == "items[2]: 2 → 5"
  end

  test "structs: by field" do
    a = %URI{host: "a", port: 80}
    assert text(a, %{a | port: 81}) == "port: 80 → 81"
  end

  test "every value in a change is cut to the cut size, with its size" do
    big = Enum.to_list(1..100_000)
    assert [{:changed, [{:key, :blob}], :small, {:lumin_cut, bytes, _prefix}}] = changes(%{blob: :small}, %{blob: big}, 256)
    assert bytes > 256
    assert text(%{blob: :small}, %{blob: big}) =~ ~r/blob: :small → \[1, 2, 3.*…\(\d+ bytes cut\)/
  end

  test "bounded: past the most changes it says so; past its steps a subtree is one change" do
    a = Map.new(1..100, &{&1, 0})
    b = Map.new(1..100, &{&1, 1})
    assert :lumin_state_diff.changes(a, b, 4096, %{max_changes: 10}) == :too_many
    assert {:ok, [{:map, [], 100, 100}]} = :lumin_state_diff.changes(a, b, 4096, %{steps: 50})
    # A long list walked past its steps: the rest from there as one change.
    l = Enum.to_list(1..1000)
    assert {:ok, [{:from, [{:nth, n}], _, _}]} = :lumin_state_diff.changes(l ++ [0], l ++ [1], 4096, %{steps: 100})
    assert n < 200
    assert text(Map.new(1..20, &{&1, 0}), Map.new(1..20, &{&1, 1})) =~ "… and 12 more"
  end

  test "a small change to a ~20 MB state ships only what changed: a few hundred bytes" do
    messages = Map.new(1..150_000, fn i -> {i, {:msg, i, "payload-#{i}-" <> String.duplicate("x", 40)}} end)
    state = %{messages: messages, queue: %{len: 0, last: nil}}
    view = {[], 4096}
    # The first message the hook sees ships the state cut; the next ones only what changed.
    {{:whole, {:lumin_cut, _, _}}, prev} = :lumin_kind_state.shipped(state, view, :none)
    next = %{state | queue: %{len: 1, last: 42}}
    {{:diff, cs}, {:prev, ^next}} = :lumin_kind_state.shipped(next, view, prev)
    assert Enum.sort(cs) == [{:changed, [{:key, :queue}, {:key, :last}], nil, 42}, {:changed, [{:key, :queue}, {:key, :len}], 0, 1}]
    assert :erts_debug.flat_size(cs) * 8 < 512
    # (the 150,000 messages are compared in one step: shared, untouched; bench/stateDiff.ts measures the time)
    # A key of a map too big to walk within the diff's steps (300,000 keys on both sides) changed: the change is
    # the map's path and its sizes, never the map.
    next2 = %{next | messages: Map.put(messages, 150_001, :new)}
    {{:diff, [{:map, [{:key, :messages}], 150_000, 150_001}] = cs2}, _} = :lumin_kind_state.shipped(next2, view, {:prev, next})
    assert :lumin_state_diff.text(cs2, :elixir, "") == "messages: changed, a map of 150000 keys → 150001 (too big to compare key by key)"
    # Within the steps, the key itself.
    small = Map.new(1..1000, &{&1, {:msg, &1}})
    assert {{:diff, [{:changed, [{:key, :messages}, {:key, 77}], {:msg, 77}, :taken}]}, _} =
             :lumin_kind_state.shipped(%{next | messages: Map.put(small, 77, :taken)}, view, {:prev, %{next | messages: small}})
    # A state that fits the cut size ships whole (exact, as %whatif needs it).
    assert {{:whole, %{len: 2}}, _} = :lumin_kind_state.shipped(%{len: 2}, view, {:prev, %{len: 1}})
    # --path: only that part is compared and shipped.
    assert {{:whole, 1}, {:prev, 1}} = :lumin_kind_state.shipped(next, {[[:queue], [:len]], 4096}, {:prev, 0})
  end
end

defmodule LuminStateDiffRedactTest do
  # What a diff's text shows is redacted as the whole state would be: the text is no term, so the rows'
  # own redaction (lumin_columns) cannot reach it.
  use ExUnit.Case, async: false

  setup do
    if :ets.info(:lumin_redact) != :undefined, do: :ets.delete(:lumin_redact)
    :ok = :lumin_redact.start()
    :ok
  end

  defp text(a, b, root \\ []) do
    {:ok, cs} = :lumin_state_diff.changes(a, b, 4096)
    :lumin_redact.text(:lumin_state_diff.text(:lumin_state_diff.redact(cs, root), :elixir, Enum.join(root, ".")))
  end

  test "a value under a secret key, or under a secret key above it, reads [redacted]; others as they are" do
    t = text(%{user: "ann", password: "pw-old-1", n: 1}, %{user: "ann", password: "pw-new-2", n: 2})
    assert t =~ "password: [redacted] → [redacted]"
    assert t =~ "n: 1 → 2"
    refute t =~ "pw-"
    t2 = text(%{credentials: %{user: "ann", pin: 1234}}, %{credentials: %{user: "ann", pin: 9999}})
    refute t2 =~ "1234"
    refute t2 =~ "9999"
    # Added whole under a secret key, in a keyword list, and under a --path that names one.
    refute text(%{a: 1}, %{a: 1, api_token: "t-12345678"}) =~ "t-1234"
    refute text([user: "ann", token: "tok-aaaa"], [user: "ann", token: "tok-bbbb"]) =~ "tok-"
    refute text("sess-aaaa", "sess-bbbb", ["session"]) =~ "sess-"
    assert text(1, 2, ["queue", "len"]) == "queue.len: 1 → 2"
  end
end

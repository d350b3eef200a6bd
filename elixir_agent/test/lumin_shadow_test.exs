defmodule LuminShadowTest do
  # The what-if runner (lumin_shadow) on a real shadow node, started as the bridge starts it (OTP peer over
  # standard_io, no distribution). Rows are made as the kernel sends them: terms as external-format binaries.
  use ExUnit.Case, async: false
  alias LuminBridge.Shadow

  @columns ~w(node row seq start_us function args outcome same recorded replayed recorded_us replayed_us state
              recorded_state replayed_state diff sent sent_count would_call error)a

  setup_all do
    {peer, _} = Shadow.peer!()
    Shadow.pcall(peer, :lumin_shadow, :setup, [[:lumin_test_target_name]])
    %{peer: peer}
  end

  defp b(term), do: :erlang.term_to_binary(term)

  defp call(m, f, args, result, opts \\ []) do
    {outcome, res, class, reason} =
      case result do
        {:raise, c, r} -> {"exception", :undefined, Atom.to_string(c), b(r)}
        v -> {"return", b(v), :undefined, :undefined}
      end
    {Keyword.get(opts, :row, 0), 1.0e15, m, f, Keyword.get(opts, :args_bin, b(args)), outcome, res, class, reason, 12.0}
  end

  defp replay(peer, kind, rows, extra \\ %{}) do
    job = Map.merge(%{kind: kind, rows: rows, timeout_ms: 2000, syntax: :elixir, node: "target@host",
                      args_fun: :undefined, state_fun: :undefined}, extra)
    {:ok, batch} = Shadow.pcall(peer, :lumin_shadow, :replay, [job])
    %{kind: :whatif, rows: rows} = LuminTest.Batch.decode(batch, @columns)
    rows
  end

  test "the shadow node is not distributed: no name, no connection", %{peer: peer} do
    assert Shadow.pcall(peer, :erlang, :node, []) == :nonode@nohost
    refute Shadow.pcall(peer, :erlang, :is_alive, [])
  end

  test "same code, same arguments: the same result; a recorded result that differs gives a diff", %{peer: peer} do
    [same, differs] = replay(peer, :calls, [call(:lists, :reverse, [[1, 2, 3]], [3, 2, 1]),
                                            call(:lists, :reverse, [[1, 2, 3]], [3, 2, 0], row: 1)])
    assert %{outcome: :return, same: true, replayed: [3, 2, 1], function: "lists:reverse/1", diff: nil, sent_count: 0} = same
    assert same.replayed_us > 0 and same.recorded_us == 12.0
    assert %{same: false, diff: "result[2]: 0 → 1", row: 1} = differs
  end

  test "exceptions are compared by class and reason", %{peer: peer} do
    [r] = replay(peer, :calls, [call(:erlang, :list_to_integer, [~c"x"], {:raise, :error, :badarg})])
    assert %{outcome: :exception, same: true, replayed: {:error, :badarg}} = r
    assert r.error =~ "ArgumentError"
  end

  test "--args rewrites the argument list; a cut term or a call recorded without arguments is not replayed", %{peer: peer} do
    rows = [call(:lists, :reverse, [[1, 2]], [2, 1]),
            call(:lists, :reverse, nil, [2, 1], row: 1, args_bin: b({:lumin_cut, 90_000, "[[1, 2"})),
            call(:lists, :reverse, nil, [2, 1], row: 2, args_bin: :undefined)]
    [changed, cut, none] = replay(peer, :calls, rows, %{args_fun: "fn [l] -> [[0 | l]] end"})
    assert %{replayed: [2, 1, 0], same: false, args: [[0, 1, 2]]} = changed
    assert %{outcome: :not_replayed, same: nil} = cut
    assert cut.error =~ "was cut on the node (90000 bytes"
    assert none.error =~ "recorded without its arguments"
  end

  test "a send to a name the target has is listed, not delivered; a call through it stops at once", %{peer: peer} do
    [sent, called] = replay(peer, :calls, [call(:erlang, :send, [:lumin_test_target_name, :hello], :hello),
                                           call(:gen_server, :call, [:lumin_test_target_name, :ping], :pong, row: 1)])
    assert %{outcome: :return, same: true, sent: [{:lumin_test_target_name, :hello}], sent_count: 1} = sent
    assert %{outcome: :would_call, would_call: "lumin_test_target_name", sent_count: 1} = called
    assert [{_, {:"$gen_call", _, :ping}}] = called.sent
    assert called.replayed_us < 1_000_000
  end

  test "a call whose arguments were redacted on the node is not re-run unless --args puts a value in; results are redacted as on a node", %{peer: peer} do
    rows = [call(:maps, :from_list, [[{:password, :lumin_redacted}]], %{password: :lumin_redacted})]
    [redacted] = replay(peer, :calls, rows)
    [given] = replay(peer, :calls, rows, %{args_fun: "fn [[{k, :lumin_redacted}]] -> [[{k, \"hunter2\"}, {:user, 1}]] end"})
    assert %{outcome: :not_replayed} = redacted
    assert redacted.error =~ "redacted on the node ([redacted])"
    # The replay's own result holds a secret under a secret key: it leaves the shadow redacted.
    assert %{outcome: :return, replayed: %{password: :lumin_redacted, user: 1}} = given
    refute given.diff =~ "hunter2"
    # A secret the replay makes itself, where the recording has it redacted, is the same result.
    [made] = replay(peer, :calls, [call(:maps, :put, [:token, "abc", %{}], %{token: :lumin_redacted})])
    assert %{outcome: :return, same: true, replayed: %{token: :lumin_redacted}} = made
  end

  test "a replay that never returns is stopped at its timeout", %{peer: peer} do
    [r] = replay(peer, :calls, [call(:timer, :sleep, [:infinity], :ok)], %{timeout_ms: 200})
    assert %{outcome: :timeout, same: nil} = r
    assert r.error =~ "still running after 200 ms"
    assert [%{same: true}] = replay(peer, :calls, [call(:lists, :sum, [[1, 2]], 3)])
  end

  test "state rows re-run a GenServer's callbacks with the recorded state; --state changes it", %{peer: peer} do
    get = {:get, {:erlang, :length, []}}
    rows = [{0, 0, 1.0e15, "call", b(get), b([1, 2, 3]), b([1, 2, 3]), b(3), 5.0, :undefined, :undefined},
            {1, 1, 1.0e15, "cast", b({:cast, {:lists, :reverse, []}}), b([1, 2, 3]), b([3, 2, 1]), :undefined, 5.0, :undefined, :undefined}]
    extra = %{module: Agent.Server, behaviour: :gen_server}
    assert [%{same: true, replayed: 3, function: "Agent.Server.handle_call/3"},
            %{same: true, replayed: nil, replayed_state: [3, 2, 1]}] = replay(peer, :state, rows, extra)
    [call, cast] = replay(peer, :state, rows, Map.put(extra, :state_fun, "fn s -> [0 | s] end"))
    assert %{same: false, replayed: 4, state: [0, 1, 2, 3], diff: "reply: 3 → 4; state: [1, 2, 3] → [0, 1, 2, 3]"} = call
    assert %{same: false, replayed_state: [3, 2, 1, 0]} = cast
    assert cast.diff =~ "state: [3, 2, 1] → [3, 2, 1, 0]"
  end

  test "a state row that recorded only what changed (a state bigger than the cut size) is not replayed, and says why", %{peer: peer} do
    rows = [{0, 0, 1.0e15, "cast", b({:cast, {:lists, :reverse, []}}), :undefined, :undefined, :undefined, 5.0, :undefined, :undefined}]
    assert [%{outcome: :not_replayed} = r] = replay(peer, :state, rows, %{module: Agent.Server, behaviour: :gen_server})
    assert r.error =~ "only what changed in the state was recorded"
    assert r.error =~ "larger --cut"
  end

  test "replacement code is compiled on the shadow only; code that does not compile says why", %{peer: peer} do
    assert {:ok, [LuminShadowTest.Replaced]} =
             Shadow.pcall(peer, :lumin_shadow, :compile, [:elixir, "defmodule LuminShadowTest.Replaced do\n def f, do: 1\nend"])
    assert {:error, text} = Shadow.pcall(peer, :lumin_shadow, :compile, [:elixir, "defmodule X do\n def f( do\nend"])
    assert text =~ "SyntaxError" or text =~ "TokenMissingError"
    assert {:ok, [:lumin_shadow_erl]} = Shadow.pcall(peer, :lumin_shadow, :compile, [:erlang, "-module(lumin_shadow_erl).\n-export([f/0]).\nf() -> 2.\n"])
    assert {:error, text} = Shadow.pcall(peer, :lumin_shadow, :compile, [:erlang, "-module(bad).\nf() -> .\n"])
    assert text =~ "line 2"
    refute function_exported?(LuminShadowTest.Replaced, :f, 0)
  end
end

defmodule LuminSuggestTest do
  # Tests written from recorded calls (lumin_suggest) on a real shadow node, then run there.
  use ExUnit.Case, async: false
  alias LuminBridge.Shadow

  defp b(term), do: :erlang.term_to_binary(term)
  defp row(m, f, args, {:raise, c, r}), do: {0, 1.0e15, m, f, b(args), "exception", :undefined, Atom.to_string(c), b(r), 1.0}
  defp row(m, f, args, v), do: {0, 1.0e15, m, f, b(args), "return", b(v), :undefined, :undefined, 1.0}

  setup_all do
    {peer, _} = Shadow.peer!()
    Shadow.pcall(peer, :lumin_shadow, :setup, [[]])
    %{peer: peer}
  end

  test "one test per behaviour, examples spread over it; pids and redacted values left out with why", %{peer: peer} do
    rows = for(n <- 1..10, do: row(:lists, :seq, [1, n], Enum.to_list(1..n))) ++
             [row(:lists, :seq, [1, -5], {:raise, :error, :function_clause}),
              row(:erlang, :tuple_to_list, [{self(), 1}], [self(), 1]),
              row(:erlang, :tuple_to_list, [{:lumin_redacted, 1}], [:lumin_redacted, 1]),
              row(:erlang, :tuple_to_list, [{:a, 1}], [:a, 1])]
    g = Shadow.pcall(peer, :lumin_suggest, :generate, [rows, %{language: :elixir, module: "Gen.RecordedTest", examples: 3, header: ["hello"]}])
    assert %{tests: 3, calls: 12} = g
    assert g.left_out == ["1 recorded call left out: a pid is in the call (it names a process of the recorded run; it cannot be written as a literal)",
                          "1 recorded call left out: a value was redacted on the node ([redacted]); secrets are never written into a test"]
    assert g.code =~ ~s(test ":lists.seq/2 with a positive integer, a positive integer returns a list" do)
    assert g.code =~ "assert :lists.seq(1, 1) == [1]\n"
    assert g.code =~ "assert :lists.seq(1, 10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
    assert g.code =~ "assert_raise FunctionClauseError, fn -> :lists.seq(1, -5) end"
    refute g.code =~ "lumin_redacted"
    refute g.code =~ "PID"
    assert {:ok, %{total: 3, failures: 0}} = Shadow.pcall(peer, :lumin_shadow, :run_tests, [:elixir, g.code, :undefined])
  end

  test "EUnit for Erlang modules; a wrong recorded result makes its test fail on the shadow", %{peer: peer} do
    rows = [row(:lists, :reverse, [[1, 2]], [2, 1]), row(:lists, :reverse, [[]], [:wrong])]
    g = Shadow.pcall(peer, :lumin_suggest, :generate, [rows, %{language: :erlang, module: "gen_recorded_tests", examples: 3, header: []}])
    assert g.code =~ "-include_lib(\"eunit/include/eunit.hrl\")."
    assert g.code =~ "?assertEqual([2,1], lists:reverse([1,2]))"
    assert {:ok, %{total: 2, failures: 1}} = Shadow.pcall(peer, :lumin_shadow, :run_tests, [:erlang, g.code, :undefined])
  end
end

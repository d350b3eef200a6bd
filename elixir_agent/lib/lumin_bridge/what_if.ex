defmodule LuminBridge.WhatIf do
  @moduledoc """
  What-if requests (`%whatif`, `%%whatif`, `%suggest_tests`), turned into work for the shadow node
  (LuminBridge.Shadow): which modules it needs from the target, the replacement code to compile there, and
  the rows to replay, sent in one batch (a round trip per row would cap replays at a few hundred a second).

  The target is only read from: `code:all_loaded/0`, its modules' object code and md5, its registered names,
  and for a state replay the callback module of the recorded process. Module names from the kernel are
  looked up there with `binary_to_existing_atom`, so no atom is made on the target.
  """
  alias LuminBridge.Shadow

  @doc "Replay rows; returns %{batch, notes, started_ms, ms} (batch: the `whatif` table's columns)."
  def replay(node, language, args) do
    t0 = System.monotonic_time(:millisecond)
    syntax = syntax(language)
    {kind, rows, roots, extra} = job(node, args)
    {peer, notes, started_ms} = Shadow.prepare!(node, roots, args[:redact])
    compile_replacement!(peer, args)
    extra = behaviour(peer, kind, extra)

    timeout = args[:timeout_ms] || 5000
    # The peer's channel is its standard I/O, which costs per byte: rows go compressed (about a tenth).
    job = Map.merge(extra, %{kind: kind, rows: :erlang.term_to_binary(rows, [:compressed]), timeout_ms: timeout, syntax: syntax,
                             node: Atom.to_string(node), args_fun: args[:args_fun] || :undefined, state_fun: args[:state_fun] || :undefined})
    case Shadow.pcall(peer, :lumin_shadow, :replay, [job], length(rows) * (timeout + 1000) + 60_000) do
      {:ok, {:compressed, packed}} ->
        %{batch: :erlang.binary_to_term(packed), notes: notes, started_ms: started_ms, ms: System.monotonic_time(:millisecond) - t0}
      {:error, why} -> throw({:error, why})
    end
  end

  @doc """
  Write tests from recorded call rows (lumin_suggest, on the shadow) and run them there against the code
  fetched from the target. Returns %{code, language, tests, calls, left_out, total, failures, output, notes}.
  """
  def suggest(node, args) do
    {:calls, rows, roots, _} = job(node, Map.put(args, :kind, :calls))
    {peer, notes, _} = Shadow.prepare!(node, roots, args[:redact])
    # ExUnit, unless every module recorded is an Erlang one (EUnit then: the node may have no Elixir).
    language = if Enum.all?(roots, &(not String.starts_with?(Atom.to_string(&1), "Elixir."))), do: :erlang, else: :elixir
    module = args[:module] || default_test_module(language, hd(roots))
    opts = %{language: language, module: module, examples: args[:examples] || 3, header: args[:header] || []}
    generated = Shadow.pcall(peer, :lumin_suggest, :generate, [:erlang.term_to_binary(rows, [:compressed]), opts], 120_000)
    ran =
      if generated.tests == 0, do: %{total: 0, failures: 0, output: ""},
        else: (case Shadow.pcall(peer, :lumin_shadow, :run_tests, [language, generated.code, :undefined], 180_000) do
                 {:ok, r} -> r
                 {:error, why} -> throw({:error, "the generated tests do not compile on the shadow node: #{why}\n\n#{generated.code}"})
               end)
    generated |> Map.merge(ran) |> Map.merge(%{notes: notes, language: language, module: module})
  end

  defp default_test_module(:elixir, m), do: name(m) <> "RecordedTest"
  defp default_test_module(:erlang, m), do: Atom.to_string(m) <> "_recorded_tests"

  defp syntax(language) when language in [:erlang, "erlang"], do: :erlang
  defp syntax(_), do: :elixir

  # Call rows: {Row, StartUs, Module, Function, Args, Outcome, Result, ExClass, ExReason, DurUs}, module and
  # function as text from the kernel, made atoms here (the bridge's and the shadow's, never the target's).
  defp job(node, %{kind: kind, rows: rows}) when kind in [:calls, "calls"] do
    mods = rows |> Enum.map(&elem(&1, 2)) |> Enum.uniq() |> Map.new(fn m -> {m, existing_module!(node, m)} end)
    rows =
      for {row, start, m, f, a, outcome, result, class, reason, dur} <- rows,
          do: {row, start, Map.fetch!(mods, m), String.to_atom(f), a, outcome, result, class, reason, dur}
    {:calls, rows, Map.values(mods), %{}}
  end

  # State rows name the process; its callback module is asked of the target (its `$initial_call`), unless
  # --module names it.
  defp job(node, %{kind: kind, rows: rows} = args) when kind in [:state, "state"] do
    module =
      case args[:module] do
        m when is_binary(m) and m != "" -> existing_module!(node, m)
        _ -> callback_module!(node, args[:pid])
      end
    {:state, rows, [module], %{module: module}}
  end

  defp behaviour(peer, :state, %{module: m} = extra) do
    exported = fn f, a -> Shadow.pcall(peer, :erlang, :function_exported, [m, f, a]) end
    b = cond do
      exported.(:callback_mode, 0) -> :gen_statem
      exported.(:handle_call, 3) or exported.(:handle_cast, 2) or exported.(:handle_info, 2) -> :gen_server
      true -> throw({:error, "#{name(m)} has no handle_call/3, handle_cast/2, handle_info/2 or callback_mode/0: it is not a GenServer or gen_statem callback module (name it with --module)"})
    end
    Map.put(extra, :behaviour, b)
  end

  defp behaviour(_, _, extra), do: extra

  defp callback_module!(node, pid_text) when is_binary(pid_text) do
    with pid when is_pid(pid) <- :rpc.call(node, :erlang, :list_to_pid, [String.to_charlist(pid_text)], 5000),
         {m, _, _} when is_atom(m) <- :rpc.call(node, :lumin_lib, :initial_call, [pid], 5000),
         true <- m not in [:proc_lib, :erlang] do
      # gen_server/gen_statem started through proc_lib: the callback module's init/1
      m
    else
      _ -> throw({:error, "the process #{pid_text} the state rows were recorded from is gone from #{node}, so its callback module is unknown: name it with --module"})
    end
  end

  defp callback_module!(node, _), do: throw({:error, "the state rows name no process on #{node}: name the callback module with --module"})

  defp existing_module!(node, text) do
    case :rpc.call(node, :erlang, :binary_to_existing_atom, [text, :utf8], 5000) do
      m when is_atom(m) -> m
      _ -> throw({:error, "#{String.replace_prefix(text, "Elixir.", "")} is not a module on #{node}"})
    end
  end

  defp compile_replacement!(_peer, %{code: nil}), do: :ok

  defp compile_replacement!(peer, %{code: code} = args) when is_binary(code) do
    lang = if args[:code_language] in [:erlang, "erlang"], do: :erlang, else: :elixir
    case Shadow.pcall(peer, :lumin_shadow, :compile, [lang, code], 120_000) do
      {:ok, mods} -> Shadow.note_patched(mods)
      {:error, why} -> throw({:error, "the replacement code does not compile on the shadow node (nothing was loaded anywhere):\n#{why}"})
    end
  end

  defp compile_replacement!(_, _), do: :ok

  defp name(m), do: m |> Atom.to_string() |> String.replace_prefix("Elixir.", "")
end

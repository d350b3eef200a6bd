defmodule LuminBridge.MatchSpec do
  @moduledoc """
  Compiles a call probe's `--match` argument pattern, with an optional guard, into match-spec clauses
  `[{Head, Guards}]`, on the bridge — never on the target.

  Erlang syntax (`[Id, _] when Id > 10`) goes through OTP's own ms_transform. Elixir syntax
  (`[id, _] when id > 10`) is translated here from Elixir's quoted form: there is no public Elixir API that
  turns a pattern into a match spec, so this covers patterns (variables, `_`, literals, lists with `|`,
  tuples, maps) and the guard expressions a match spec allows (comparisons, arithmetic, `and`/`or`/`not`,
  type checks, `elem`, `tuple_size`, `hd`, `tl`, `length`, `map_size`, `byte_size`, `abs`).
  """

  @doc "Compile `text` for a node whose language is `:elixir` or `:erlang`."
  def compile(text, language) do
    first = if language == :elixir, do: &elixir/1, else: &erlang/1
    second = if language == :elixir, do: &erlang/1, else: &elixir/1

    case first.(text) do
      {:ok, _} = ok -> ok
      {:error, why} ->
        case second.(text) do
          {:ok, _} = ok -> ok
          {:error, _} -> {:error, "the pattern #{inspect(text)} is not valid: #{why}"}
        end
    end
  end

  @doc "Every atom a match spec mentions (checked against the target before arming)."
  def atoms(term) when is_atom(term), do: if(match_var?(term), do: [], else: [term])
  def atoms(term) when is_list(term), do: Enum.flat_map(term, &atoms/1)
  def atoms(term) when is_tuple(term), do: term |> Tuple.to_list() |> atoms()
  def atoms(term) when is_map(term), do: term |> Map.to_list() |> atoms()
  def atoms(_), do: []

  defp match_var?(a), do: a == :_ or String.match?(Atom.to_string(a), ~r/^\$\d+$|^\$_$/)

  # ---- Erlang -----------------------------------------------------------------------------------------

  defp erlang(text) do
    # `[Id, _] when Id > 10` is the argument list and a guard: fun([Id, _]) when Id > 10 -> true end.
    {args, guard} =
      case String.split(text, ~r/\bwhen\b/, parts: 2) do
        [args, guard] -> {args, " when " <> guard}
        [args] -> {args, ""}
      end

    source = ~c"fun(#{args})#{guard} -> true end."

    with {:ok, tokens, _} <- :erl_scan.string(source),
         {:ok, [{:fun, _, {:clauses, clauses}}]} <- :erl_parse.parse_exprs(tokens),
         ms when is_list(ms) <- :ms_transform.transform_from_shell(:dbg, clauses, []) do
      {:ok, for({head, guards, _body} <- ms, do: {head, guards})}
    else
      {:error, {_, mod, what}, _} -> {:error, to_string(mod.format_error(what))}
      {:error, {_, mod, what}} -> {:error, to_string(mod.format_error(what))}
      {:error, [{_, [{_, mod, what} | _]} | _], _} -> {:error, to_string(mod.format_error(what))}
      other -> {:error, inspect(other)}
    end
  end

  # ---- Elixir -----------------------------------------------------------------------------------------

  defp elixir(text) do
    case Code.string_to_quoted(text, existing_atoms_only: false) do
      {:ok, {:when, _, [pattern, guard]}} -> translate(pattern, guard)
      {:ok, pattern} -> translate(pattern, nil)
      {:error, {_, msg, token}} -> {:error, "#{format_msg(msg)}#{token}"}
    end
  end

  defp format_msg({a, b}), do: "#{a}#{b}"
  defp format_msg(msg), do: to_string(msg)

  defp translate(pattern, guard) do
    {head, vars} = pattern(pattern, %{})
    guards = if guard, do: [guard(guard, vars)], else: []

    unless is_list(head) or head == :_,
      do: throw({:bad, "the pattern must be the argument list, like [id, _]"})

    {:ok, [{head, guards}]}
  catch
    {:bad, why} -> {:error, why}
  end

  defp pattern({:_, _, ctx}, vars) when is_atom(ctx), do: {:_, vars}

  defp pattern({name, _, ctx}, vars) when is_atom(name) and is_atom(ctx) do
    if String.starts_with?(Atom.to_string(name), "_") do
      {:_, vars}
    else
      case vars do
        %{^name => v} -> {v, vars}
        _ ->
          v = :"$#{map_size(vars) + 1}"
          {v, Map.put(vars, name, v)}
      end
    end
  end

  defp pattern(list, vars) when is_list(list) do
    case List.last(list) do
      {:|, _, [h, t]} ->
        {init, vars} = map_reduce(Enum.drop(list, -1) ++ [h], vars)
        {tail, vars} = pattern(t, vars)
        {init ++ tail_of(tail), vars}

      _ ->
        map_reduce(list, vars)
    end
  end

  defp pattern({a, b}, vars) do
    {[a, b], vars} = map_reduce([a, b], vars)
    {{a, b}, vars}
  end

  defp pattern({:{}, _, elems}, vars) do
    {elems, vars} = map_reduce(elems, vars)
    {List.to_tuple(elems), vars}
  end

  defp pattern({:%{}, _, pairs}, vars) do
    {pairs, vars} =
      Enum.map_reduce(pairs, vars, fn {k, v}, acc ->
        {v, acc} = pattern(v, acc)
        {{literal!(k), v}, acc}
      end)

    {Map.new(pairs), vars}
  end

  defp pattern({:-, _, [n]}, vars) when is_number(n), do: {-n, vars}
  defp pattern(lit, vars) when is_atom(lit) or is_number(lit) or is_binary(lit), do: {lit, vars}
  defp pattern(other, _), do: throw({:bad, "#{Macro.to_string(other)} cannot be used in a probe pattern"})

  # An improper tail [a | t]: a variable tail stays a variable.
  defp tail_of(t) when is_list(t), do: t
  defp tail_of(t), do: t

  defp map_reduce(list, vars), do: Enum.map_reduce(list, vars, &pattern/2)

  defp literal!(k) when is_atom(k) or is_number(k) or is_binary(k), do: k
  defp literal!(k), do: throw({:bad, "map keys in a pattern must be literals, not #{Macro.to_string(k)}"})

  @ops %{
    ==: :==, !=: :"/=", ===: :"=:=", !==: :"=/=", <: :<, >: :>, <=: :"=<", >=: :>=,
    +: :+, -: :-, *: :*, /: :/, and: :andalso, or: :orelse, div: :div, rem: :rem
  }
  @guard_funs ~w(is_atom is_binary is_bitstring is_boolean is_float is_function is_integer is_list is_map
                 is_number is_pid is_port is_reference is_tuple elem hd tl length map_size byte_size abs)a

  defp guard({:not, _, [x]}, vars), do: {:not, guard(x, vars)}

  defp guard({op, _, [a, b]}, vars) when is_map_key(@ops, op),
    do: {Map.fetch!(@ops, op), guard(a, vars), guard(b, vars)}

  defp guard({:elem, _, [t, i]}, vars) when is_integer(i), do: {:element, i + 1, guard(t, vars)}
  # Match specs have no tuple_size/1; their size/1 answers the same for a tuple.
  defp guard({:tuple_size, _, [t]}, vars), do: {:size, guard(t, vars)}
  defp guard({fun, _, args}, vars) when fun in @guard_funs and is_list(args),
    do: List.to_tuple([fun | Enum.map(args, &guard(&1, vars))])

  defp guard({name, _, ctx}, vars) when is_atom(name) and is_atom(ctx) do
    case vars do
      %{^name => v} -> v
      _ -> throw({:bad, "the guard uses #{name}, which the pattern does not bind"})
    end
  end

  defp guard(lit, _) when is_number(lit) or is_atom(lit), do: lit
  defp guard(lit, _) when is_binary(lit), do: lit
  defp guard(other, _), do: throw({:bad, "#{Macro.to_string(other)} is not allowed in a probe guard"})
end

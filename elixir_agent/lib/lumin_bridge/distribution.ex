defmodule LuminBridge.Distribution do
  @moduledoc """
  Erlang distribution for the bridge: started on first need in the target's naming mode (short or long
  names), always hidden, so attaching never joins a target's `global` group or changes its cluster; epmd is
  started first when none runs. Cookies are set per node and never logged or returned.
  """

  @doc "Short or long names, from a node name: a host with a dot means long names."
  def naming_mode(node_name) do
    case String.split(node_name, "@", parts: 2) do
      [_, host] -> if String.contains?(host, "."), do: :longnames, else: :shortnames
      _ -> :invalid
    end
  end

  @doc "Start distribution (hidden) in `mode`, or check that it already runs in that mode."
  def ensure_started(mode) do
    cond do
      Node.alive?() and current_mode() == mode ->
        :ok

      Node.alive?() ->
        {:error,
         "this kernel already talks to nodes with #{mode_text(current_mode())}; a node with #{mode_text(mode)} " <>
           "needs another kernel (Erlang distribution cannot mix the two in one node)"}

      true ->
        System.cmd("epmd", ["-daemon"], stderr_to_stdout: true)
        name = :"lumin_bridge_#{System.unique_integer([:positive])}_#{:os.getpid()}"

        case :net_kernel.start(name, %{name_domain: mode, hidden: true}) do
          {:ok, _} ->
            # The bridge's own cookie is random: no node can reach it with a guessed default.
            Node.set_cookie(:crypto.strong_rand_bytes(24) |> Base.url_encode64() |> String.to_atom())
            :net_kernel.monitor_nodes(true, node_type: :all)
            :ok

          {:error, reason} ->
            {:error, "could not start Erlang distribution (#{inspect(reason)}); is epmd allowed to run here?"}
        end
    end
  end

  defp current_mode do
    host = node() |> Atom.to_string() |> String.split("@") |> List.last()
    if String.contains?(host, "."), do: :longnames, else: :shortnames
  end

  defp mode_text(:longnames), do: "long names (-name)"
  defp mode_text(:shortnames), do: "short names (-sname)"

  @doc "Connect to `node` with `cookie` within `timeout_ms`; on failure, say the likely causes."
  def connect(node, cookie, timeout_ms) do
    :erlang.set_cookie(node, cookie)
    task = Task.async(fn -> :net_kernel.connect_node(node) end)

    case Task.yield(task, timeout_ms) || Task.shutdown(task, :brutal_kill) do
      {:ok, true} -> :ok
      _ -> {:error, diagnose(node, timeout_ms)}
    end
  end

  defp diagnose(node, timeout_ms) do
    [name, host] = node |> Atom.to_string() |> String.split("@", parts: 2)

    cause =
      case :erl_epmd.names(String.to_charlist(host)) do
        {:ok, names} ->
          registered = for {n, _port} <- names, do: List.to_string(n)

          if name in registered do
            "a node named #{name} is registered on #{host}, so the likely cause is a cookie mismatch (check " <>
              "--cookie-env / --cookie-file or ~/.erlang.cookie), or a naming-mode mismatch (-name vs -sname)"
          else
            "no node named #{name} is registered with epmd on #{host}" <>
              if(registered == [], do: " (no nodes are)", else: " (registered: #{Enum.join(registered, ", ")})")
          end

        {:error, :address} ->
          "no epmd answers on #{host}: the host is unreachable or no Erlang node was started there"

        {:error, reason} ->
          "epmd on #{host} could not be asked (#{inspect(reason)})"
      end

    "could not connect to #{node} within #{div(timeout_ms, 1000)} s: #{cause}."
  end
end

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

  @doc """
  Start distribution (hidden) in the naming mode of `node_name`, or check that it already runs in that mode.
  One bridge speaks one mode (Erlang distribution cannot mix them in one node): the kernel runs a bridge per
  mode, so one kernel talks to both kinds of node at once.
  """
  def ensure_started(node_name) do
    mode = naming_mode(node_name)

    cond do
      Node.alive?() and current_mode() == mode ->
        :ok

      Node.alive?() ->
        {:error, "this bridge already talks to nodes with #{mode_text(current_mode())}, not #{mode_text(mode)}"}

      true ->
        System.cmd("epmd", ["-daemon"], stderr_to_stdout: true)
        base = "lumin_bridge_#{System.unique_integer([:positive])}_#{:os.getpid()}"
        name = if mode == :longnames, do: :"#{base}@#{long_host(node_name)}", else: :"#{base}"

        case :net_kernel.start(name, %{name_domain: mode, hidden: true}) do
          {:ok, _} ->
            # The bridge's own cookie is random: no node can reach it with a guessed default.
            Node.set_cookie(:crypto.strong_rand_bytes(24) |> Base.url_encode64() |> String.to_atom())
            :ok

          {:error, reason} ->
            {:error, "could not start Erlang distribution with #{mode_text(mode)} (#{inspect(reason)}); is epmd allowed to run here?"}
        end
    end
  end

  # The bridge's host in a long name. Erlang would take this host's name, which fails where it has no dot
  # ("nodistribution"): a target on this machine's loopback gets 127.0.0.1; another host gets this host's
  # full name when it has a dot, else this host's first non-loopback IPv4 address.
  defp long_host(node_name) do
    [_, host] = String.split(node_name, "@", parts: 2)

    cond do
      loopback?(host) -> "127.0.0.1"
      String.contains?(fqdn(), ".") -> fqdn()
      true -> first_address() || "127.0.0.1"
    end
  end

  defp loopback?(host) do
    case :inet.parse_address(String.to_charlist(host)) do
      {:ok, {127, _, _, _}} -> true
      {:ok, {0, 0, 0, 0, 0, 0, 0, 1}} -> true
      {:ok, _} -> false
      _ -> String.starts_with?(host, "localhost.")
    end
  end

  defp fqdn do
    {:ok, short} = :inet.gethostname()
    case :inet.gethostbyname(short) do
      {:ok, {:hostent, full, _, _, _, _}} -> List.to_string(full)
      _ -> List.to_string(short)
    end
  end

  defp first_address do
    with {:ok, ifs} <- :inet.getifaddrs() do
      Enum.find_value(ifs, fn {_name, opts} ->
        Enum.find_value(opts, fn
          {:addr, {a, _, _, _} = ip} when a != 127 -> ip |> :inet.ntoa() |> List.to_string()
          _ -> nil
        end)
      end)
    else
      _ -> nil
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

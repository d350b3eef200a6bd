defmodule LuminBridge.Holder do
  @moduledoc """
  Who holds a node. One ElixirLumin agent runs on a node at a time; it keeps a description of the kernel that
  started it (its host, the kernel's OS process, the bridge node, since when) in its own process dictionary.
  Before loading anything, an attach reads that description with plain BIFs (no module of ours is needed on
  the node) and, when another kernel holds the node, refuses and says exactly who: a refused attach changes
  nothing there.
  """

  @doc "This kernel, as the agent will describe it to others."
  def me do
    {:ok, host} = :inet.gethostname()

    %{host: List.to_string(host),
      kernel_pid: System.get_env("LUMIN_KERNEL_PID") || "?",
      bridge: Atom.to_string(node()),
      since: DateTime.utc_now() |> DateTime.truncate(:second) |> DateTime.to_iso8601()}
  end

  @doc """
  Claim `node` for one attach, or throw {:error, sentence}: another kernel holds it, or is attaching right
  now. The claim is a registered name on the node (registering is atomic, so two kernels attaching at the
  same moment cannot both pass), held by a plain `timer:sleep` process that ends by itself after a minute
  if this bridge dies mid-attach. Returns the function that releases it.
  """
  def claim!(node) do
    placeholder = :rpc.call(node, :erlang, :spawn, [:timer, :sleep, [60_000]], 5000)
    release = fn -> :rpc.call(node, :erlang, :exit, [placeholder, :kill], 5000) end

    case is_pid(placeholder) and :rpc.call(node, :erlang, :register, [:lumin_attaching, placeholder], 5000) do
      true ->
        try do
          refuse_if_held!(node)
        catch
          kind, reason ->
            release.()
            :erlang.raise(kind, reason, __STACKTRACE__)
        end

        release

      _ ->
        if is_pid(placeholder), do: release.()
        refuse_if_held!(node)
        throw({:error, "another ElixirLumin kernel is attaching to #{node} at this moment; nothing was changed on the node"})
    end
  end

  @doc "Throws {:error, sentence} when another kernel's agent runs on `node`; waits out our own stale one."
  def refuse_if_held!(node) do
    case :rpc.call(node, :erlang, :whereis, [:lumin_agent], 5000) do
      pid when is_pid(pid) ->
        holder = describe(node, pid)

        if holder[:bridge] == Atom.to_string(node()) do
          # Our own agent from before the connection dropped: it is cleaning up after us; let it finish.
          wait_gone(node, 50)
        else
          throw({:error, refusal(node, holder)})
        end

      _ ->
        :ok
    end
  end

  defp describe(node, pid) do
    case :rpc.call(node, :erlang, :process_info, [pid, :dictionary], 5000) do
      {:dictionary, d} -> Map.new(Keyword.get(d, :lumin_holder, %{}))
      _ -> %{}
    end
  end

  defp refusal(node, h) do
    who =
      if h[:host],
        do: "the kernel with process id #{h.kernel_pid} on host #{h.host} (bridge #{h.bridge}), attached since #{h.since}",
        else: "an ElixirLumin kernel of another version"

    "#{node} is held by another ElixirLumin kernel: #{who}. Nothing was changed on the node. " <>
      "Work from that kernel, or %disconnect it there first."
  end

  defp wait_gone(_node, 0), do: :ok

  defp wait_gone(node, tries) do
    case :rpc.call(node, :erlang, :whereis, [:lumin_agent], 5000) do
      pid when is_pid(pid) ->
        Process.sleep(100)
        wait_gone(node, tries - 1)

      _ ->
        :ok
    end
  end
end

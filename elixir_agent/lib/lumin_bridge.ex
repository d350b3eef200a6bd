defmodule LuminBridge do
  @moduledoc """
  The bridge: a hidden local node the kernel starts, owns and stops (one per kernel). It talks to the
  kernel over a private channel — fd 3 in, fd 4 out, each frame 4-byte length + one external-format term
  (kernel/beam/protocol.ts has the ops) — and to targets over hidden Erlang distribution.

  When the channel reaches EOF (the kernel exited or was killed), the bridge detaches from every target and
  halts. Targets do not depend on that goodbye: their agents watch this process and clean up by themselves.

  Each attached node is watched from this server, which lives as long as the connection: it monitors the
  node's agent, so a node that stops, is killed or drops the connection is noticed at once and reported as
  `node_down` (the kernel reattaches on the next magic that needs it).

  The server also sends each agent a heartbeat every second and expects its answer: an agent that hears none
  for 3 s cleans up on its own (a cut link is noticed long before the node's net tick time), and a node whose
  agent has not answered for 10 s is reported lost (`node_down`) and disconnected.

  Clusters: `cluster` lists the peers an attached node is connected to (visible and hidden apart), and a peer
  is attached with `cookie_of: SEED` (the cookie set for the node it was found through). Each agent reports the
  nodes that join or leave its node's cluster as `cluster_change` events.

  Cell evaluation runs in an evaluator on the node (`lumin_eval:start/1`), one per node: bindings stay there,
  and each cell's process is killed on interrupt (`eval_cancel`), timeout, detach or when this bridge goes.
  """
  use GenServer
  # Heartbeats to every agent, and how long a silent agent is given before its node is reported lost.
  @beat_ms 1000
  @silent_ms 10_000
  alias LuminBridge.{Distribution, Holder, Loader, LocalNode, MatchSpec, Shadow, WhatIf}

  @doc "Entry point of elixir_agent/bin/lumin_bridge."
  def main do
    {:ok, pid} = GenServer.start(__MODULE__, nil, name: __MODULE__)
    ref = Process.monitor(pid)
    receive do
      {:DOWN, ^ref, _, _, _} -> System.halt(0)
    end
  end

  # ---- state: %{port, nodes: %{node => info}, probes: %{name => node}, redact: policy or nil} ----
  # redact: the kernel's redaction policy (%{enabled, keys}), given to each agent as it starts; nil until the
  # kernel sends one (the agent then keeps its default policy).
  # info: %{agent, evaluator, watch (monitor of the agent), port (owned nodes), reply (what %connect shows)}

  @impl true
  def init(nil) do
    port = Port.open({:fd, 3, 4}, [{:packet, 4}, :binary, :eof])
    :timer.send_interval(@beat_ms, :beat)
    {:ok, %{port: port, nodes: %{}, probes: %{}, redact: nil}}
  end

  @impl true
  def handle_info({port, {:data, frame}}, %{port: port} = s) do
    {:request, id, op, args} = :erlang.binary_to_term(frame)
    {:noreply, request(op, id, args, s)}
  end

  def handle_info({port, :eof}, %{port: port} = s) do
    detach_all(s)
    System.halt(0)
  end

  def handle_info({:done, id, result, update}, s) do
    reply(s, id, result)
    {:noreply, update.(s)}
  end

  def handle_info({:lumin_event, :probe_batch, %{from: from, name: name} = batch}, s) do
    send_frame(s, {:event, :probe_batch, Map.delete(batch, :from)})
    send(from, {:lumin_ack, name})
    {:noreply, s}
  end

  def handle_info({:lumin_event, type, payload}, s) do
    send_frame(s, {:event, type, payload})
    {:noreply, s}
  end

  def handle_info({:DOWN, ref, :process, _, reason}, s) do
    case Enum.find(s.nodes, fn {_, info} -> info.watch == ref end) do
      nil -> {:noreply, s}
      {node, info} -> {:noreply, lost(s, node, info, reason)}
    end
  end

  def handle_info(:beat, s) do
    now = System.monotonic_time(:millisecond)

    Enum.reduce(s.nodes, s, fn {node, info}, acc ->
      if now - Map.get(info, :last_beat, now) > @silent_ms do
        Process.demonitor(info.watch, [:flush])
        unless info.reply.owned, do: Node.disconnect(node)
        lost(acc, node, info, :silent)
      else
        send(info.agent, {:"$lumin", :heartbeat, self()})
        acc
      end
    end)
    |> then(&{:noreply, &1})
  end

  def handle_info({:"$lumin", :beat_ack, node}, s) do
    case s.nodes do
      %{^node => info} -> {:noreply, %{s | nodes: Map.put(s.nodes, node, Map.put(info, :last_beat, System.monotonic_time(:millisecond)))}}
      _ -> {:noreply, s}
    end
  end

  def handle_info(_, s), do: {:noreply, s}

  # ---- requests ---------------------------------------------------------------------------------------
  # Quick ones are answered here; slow ones (network, evaluation) run in a task that reports back with
  # {:done, id, result, state_update}, so one slow node never holds up the others.

  defp request(:nodes, id, _args, s) do
    reply(s, id, {:ok, for({_n, info} <- s.nodes, do: info.reply)})
    s
  end

  defp request(:connect, id, %{node: name} = args, s) do
    redact = s.redact

    if find_node(s, name) do
      reply(s, id, {:error, "#{name} is attached already (%nodes lists the attached nodes)"})
    else
      async(id, fn ->
        node = node_atom!(name)
        ensure_distribution!(name)
        # Reattaching after the node was lost: the cookie set for it last time (it never leaves this node).
        # A peer found through an attached node: the cookie set for that node (the cluster shares one).
        cookie =
          cond do
            args[:again] -> :erlang.get_cookie(node)
            args[:cookie_of] -> :erlang.get_cookie(node_atom!(args[:cookie_of]))
            true -> cookie!(args[:cookie])
          end
        case Distribution.connect(node, cookie, args[:timeout_ms] || 5000) do
          :ok -> attach!(node, false, nil, redact)
          {:error, why} -> throw({:error, why})
        end
      end)
    end
    s
  end

  defp request(:start_node, id, %{name: name} = args, s) do
    redact = s.redact

    async(id, fn ->
      ensure_distribution!("#{name}@localhost")
      cookie = :crypto.strong_rand_bytes(18) |> Base.url_encode64()
      {node, port} = LocalNode.start(name, args[:app_dir], cookie, args[:timeout_ms] || 60_000)
      # The server owns the node's OS process from now on; this task is about to exit.
      Port.connect(port, Process.whereis(__MODULE__))
      Process.unlink(port)
      # A node we started and could not attach to would be left running by nobody: stop it.
      try do
        attach!(node, true, port, redact)
      catch
        kind, reason ->
          LocalNode.stop(port)
          :erlang.raise(kind, reason, __STACKTRACE__)
      end
    end)
    s
  end

  # The nodes an attached node is connected to, visible and hidden apart: bridges of ElixirLumin kernels
  # (this one's and others') are not part of the cluster and are left out.
  defp request(:cluster, id, %{node: name}, s) do
    with_node(s, id, name, fn node, _ ->
      peers = fn type ->
        case :rpc.call(node, :erlang, :nodes, [type], 5000) do
          l when is_list(l) ->
            for n <- l, text = Atom.to_string(n), not String.starts_with?(text, "lumin_bridge_"), do: text

          other ->
            throw({:error, "could not ask #{node} for its peers: #{inspect(other)}"})
        end
      end

      {{:ok, %{visible: peers.(:visible), hidden: peers.(:hidden)}}, & &1}
    end)
  end

  defp request(:disconnect, id, %{node: name}, s) do
    case find_node(s, name) do
      nil ->
        reply(s, id, {:error, "#{name} is not attached (%nodes lists the attached nodes)"})
        s

      {node, info} ->
        Process.demonitor(info.watch, [:flush])
        detach(node, info)
        reply(s, id, {:ok, :ok})
        %{s | nodes: Map.delete(s.nodes, node), probes: Map.reject(s.probes, fn {_, n} -> n == node end)}
    end
  end

  # The evaluator on the node runs the cell and answers this task; the task also ends if the node is lost.
  defp request(:eval, id, %{node: name, language: lang, code: code} = args, s) do
    with_node(s, id, name, fn node, info ->
      eval_id = args[:eval_id] || id
      timeout = args[:timeout_ms] || 120_000
      watch = Process.monitor(info.evaluator)
      send(info.evaluator, {:eval, eval_id, if(lang in [:erlang, "erlang"], do: :erlang, else: :elixir), code, timeout, self()})

      receive do
        {:eval_done, ^eval_id, result, cut} ->
          Process.demonitor(watch, [:flush])
          {eval_result(node, result, cut, timeout), & &1}

        {:DOWN, ^watch, :process, _, _} ->
          {{:error, "the connection to #{node} was lost during the evaluation"}, & &1}
      end
    end)
  end

  defp request(:eval_cancel, id, %{node: name, eval_id: eval_id}, s) do
    case find_node(s, name) do
      {_node, info} -> send(info.evaluator, {:cancel, eval_id})
      nil -> :ok
    end

    reply(s, id, {:ok, :ok})
    s
  end

  defp request(:complete, id, %{node: name, prefix: prefix} = args, s) do
    with_node(s, id, name, fn node, _ ->
      # A missing module (complete module names) is `undefined` on the node, not Elixir's nil.
      case :rpc.call(node, :lumin_eval, :complete, [args[:module] || :undefined, prefix], 5000) do
        names when is_list(names) -> {{:ok, names}, & &1}
        _ -> {{:ok, []}, & &1}
      end
    end)
  end

  defp request(:probe_arm, id, %{node: name, name: probe, kind: kind, spec: spec}, s) do
    if Map.has_key?(s.probes, probe) and probe_armed?(s, probe) do
      reply(s, id, {:error, "a probe named #{probe} is armed already; pick another name with --as or %disarm it"})
      s
    else
      with_node(s, id, name, fn node, info ->
        spec = compile_match!(spec, node, info.reply.language)
        case GenServer.call(info.agent, {:arm, probe, kind, spec}, 60_000) do
          {:ok, result} -> {{:ok, result}, fn st -> %{st | probes: Map.put(st.probes, probe, node)} end}
          {:error, why} -> {{:error, in_language(why, info.reply.language)}, & &1}
        end
      end)
    end
  end

  defp request(:probe_disarm, id, args, s) do
    targets =
      if args[:all], do: Enum.map(s.nodes, fn {_, info} -> {info.agent, :all} end),
        else: for({probe, node} <- s.probes, probe == args[:name], info = s.nodes[node], do: {info.agent, probe})

    async(id, fn ->
      for {agent, which} <- targets, do: catch_exit(fn -> GenServer.call(agent, {:disarm, which}, 30_000) end)
      :ok
    end)
    s
  end

  defp request(:probe_list, id, _args, s) do
    agents = Enum.map(s.nodes, fn {_, info} -> info.agent end)
    async(id, fn -> Enum.flat_map(agents, fn a -> catch_exit(fn -> GenServer.call(a, :list, 30_000) end) || [] end) end)
    s
  end

  defp request(:snapshot, id, %{node: name, kind: kind} = args, s) do
    with_node(s, id, name, fn _node, info ->
      case GenServer.call(info.agent, {:snapshot, kind, args[:options] || %{}}, 60_000) do
        {:ok, batch} -> {{:ok, batch}, & &1}
        {:error, why} -> {{:error, in_language(why, info.reply.language)}, & &1}
      end
    end)
  end

  defp request(:process, id, %{node: name, target: target, what: what}, s) do
    with_node(s, id, name, fn _node, info ->
      case GenServer.call(info.agent, {:process, target, what}, 30_000) do
        {:ok, term} -> {{:ok, term}, & &1}
        {:error, why} -> {{:error, in_language(why, info.reply.language)}, & &1}
      end
    end)
  end

  # What-if replays run on the shadow node (LuminBridge.Shadow); the node named is only read from (its code,
  # its registered names), never changed.
  defp request(:whatif, id, %{node: name} = args, s) do
    with_node(s, id, name, fn node, info -> {{:ok, WhatIf.replay(node, info.reply.language, Map.put(args, :redact, s.redact))}, & &1} end)
  end

  defp request(:suggest_tests, id, %{node: name} = args, s) do
    with_node(s, id, name, fn node, _info -> {{:ok, WhatIf.suggest(node, Map.put(args, :redact, s.redact))}, & &1} end)
  end

  # An interrupted replay: the shadow node is stopped (and started again on the next use), which ends it.
  defp request(:whatif_cancel, id, _args, s) do
    async(id, fn -> Shadow.restart(); :ok end)
    s
  end

  # The redaction policy: kept for nodes attached later, and set on every agent now (a node that does not
  # answer is named in the error; the others have it).
  defp request(:redact, id, %{enabled: on, keys: keys}, s) when is_boolean(on) and is_list(keys) do
    policy = %{enabled: on, keys: Enum.filter(keys, &is_binary/1)}
    agents = for {node, info} <- s.nodes, do: {node, info.agent}

    async(id, fn ->
      failed =
        for {node, agent} <- agents,
            catch_exit(fn -> GenServer.call(agent, {:redact, on, policy.keys}, 10_000) end) != :ok,
            do: node

      case failed do
        [] -> {{:ok, length(agents)}, & &1}
        _ -> {{:error, "the redaction policy could not be set on #{Enum.join(failed, ", ")}"}, & &1}
      end
    end)

    %{s | redact: policy}
  end

  defp request(op, id, _args, s) do
    reply(s, id, {:error, "the bridge does not know the request #{inspect(op)}"})
    s
  end

  # ---- helpers ----------------------------------------------------------------------------------------

  # The node's messages name modules as the VM spells them; on an Elixir node, say them as Elixir does
  # (`Elixir.Shop.Nope` is `Shop.Nope`).
  defp in_language(text, :elixir), do: String.replace(IO.iodata_to_binary(text), ~r/\bElixir\.(?=[A-Z])/, "")
  defp in_language(text, _), do: text

  defp eval_result(_node, {:ok, value, text}, cut, _), do: {:ok, %{value: value, text: text, output_cut: cut}}

  defp eval_result(node, {:error, :interrupted}, _, _),
    do: {:error, "interrupted: the evaluation on #{node} was stopped (its process there was killed)"}

  defp eval_result(node, {:error, {:timeout, ms}}, _, _),
    do: {:error, "the evaluation on #{node} took longer than #{div(ms, 1000)} s and was stopped (its process there was killed); give it more time with --timeout"}

  defp eval_result(_node, {:error, text}, _, _), do: {:error, text}

  # The node is gone, or its agent stopped: forget it, end its probes on the kernel side, and say when.
  defp lost(s, node, info, reason) do
    if info[:port], do: LocalNode.stop(info.port)

    why =
      case reason do
        :noconnection -> "the connection to #{node} was lost (the node stopped, or it disconnected this kernel)"
        :silent -> "#{node} did not answer for #{div(@silent_ms, 1000)} s (the link to it may be cut; its agent cleans up on its own after 3 s without this kernel)"
        other -> "the agent on #{node} stopped (#{inspect(other)})"
      end

    send_frame(s, {:event, :node_down, %{node: Atom.to_string(node), reason: why, at_ms: System.system_time(:millisecond)}})
    %{s | nodes: Map.delete(s.nodes, node), probes: Map.reject(s.probes, fn {_, n} -> n == node end)}
  end

  defp async(id, fun) do
    server = self()
    Task.start(fn ->
      {result, update} =
        try do
          case fun.() do
            {{tag, _} = r, update} when tag in [:ok, :error] and is_function(update, 1) -> {r, update}
            {:attached, node, info} -> {{:ok, info.reply}, &watch(&1, node, info)}
            other -> {{:ok, other}, & &1}
          end
        catch
          {:error, why} -> {{:error, IO.iodata_to_binary(why)}, & &1}
          :exit, reason -> {{:error, "the request failed: #{Exception.format_exit(reason)}"}, & &1}
          kind, reason -> {{:error, "the bridge failed on this request: #{safe_format(kind, reason, __STACKTRACE__)}"}, & &1}
        end

      send(server, {:done, id, result, update})
    end)
  end

  # The server watches the node's agent for as long as it is attached (a task would stop watching when it ends).
  defp watch(s, node, info) do
    ref = Process.monitor(info.agent)
    info = info |> Map.put(:watch, ref) |> Map.put(:last_beat, System.monotonic_time(:millisecond))
    %{s | nodes: Map.put(s.nodes, node, info)}
  end

  # An error's text without the arguments in its stack: they can hold what the user gave (a cookie).
  defp safe_format(kind, reason, stack) do
    stack = for {m, f, a, loc} <- stack, do: {m, f, if(is_list(a), do: length(a), else: a), loc}
    Exception.format_banner(kind, reason, []) <> "\n" <> Exception.format_stacktrace(stack)
  end

  defp with_node(s, id, name, fun) do
    case find_node(s, name) do
      nil -> reply(s, id, {:error, "#{name || "no node"} is not attached: %connect NODE or %node start NAME first"})
      {node, info} -> async(id, fn -> fun.(node, info) end)
    end
    s
  end

  defp find_node(s, nil), do: Enum.at(s.nodes, 0)
  defp find_node(s, name) when is_binary(name), do: Enum.find(s.nodes, fn {n, _} -> Atom.to_string(n) == name end)

  defp probe_armed?(s, probe) do
    node = s.probes[probe]
    info = s.nodes[node]
    info != nil and
      Enum.any?(catch_exit(fn -> GenServer.call(info.agent, :list, 5000) end) || [],
                fn p -> p.name == probe and p.state != :ended end)
  end

  defp catch_exit(fun) do
    fun.()
  catch
    :exit, _ -> nil
  end

  defp node_atom!(name) do
    if Distribution.naming_mode(name) == :invalid,
      do: throw({:error, "#{inspect(name)} is not a node name: write it as name@host"})

    # The node name becomes an atom on the bridge (our own node), never on a target.
    String.to_atom(name)
  end

  defp ensure_distribution!(name) do
    case Distribution.ensure_started(name) do
      :ok -> :ok
      {:error, why} -> throw({:error, why})
    end
  end

  defp cookie!(nil) do
    path = Path.join(System.user_home!(), ".erlang.cookie")
    case File.read(path) do
      {:ok, c} -> c |> String.trim() |> cookie_atom!(path)
      _ -> throw({:error, "no cookie was given and #{path} cannot be read; pass --cookie-env VAR or --cookie-file PATH"})
    end
  end

  defp cookie!(c) when is_binary(c), do: cookie_atom!(c, "the cookie given")

  # A cookie is an atom: at most 255 characters, printable, on one line. What was wrong is said without ever
  # showing the text (a wrong file could be a key).
  defp cookie_atom!(c, source) do
    cond do
      c == "" -> throw({:error, "#{source} is empty"})
      String.length(c) > 255 -> throw({:error, "#{source} is #{String.length(c)} characters long; a cookie is at most 255 characters (is it the right file?)"})
      not String.printable?(c) or String.contains?(c, ["\n", "\r", "\t"]) ->
        throw({:error, "#{source} is not a cookie: it has line breaks or unprintable characters (is it the right file?)"})
      true -> String.to_atom(c)
    end
  end

  # Load the agent, start its owner and the evaluator, and describe the node. Another kernel's agent there is
  # found before anything is loaded: a refused attach changes nothing on the node.
  defp attach!(node, owned, port, redact) do
    release = Holder.claim!(node)

    try do
      case Loader.load(node) do
        :ok -> :ok
        {:error, why} -> throw({:error, why})
      end

      bridge = Process.whereis(__MODULE__)
      opts = %{modules: Loader.modules(), owned: owned, holder: Holder.me(), redact: redact}
      with {:ok, agent} <- :rpc.call(node, :lumin_agent, :start, [bridge, opts], 15_000),
           {:ok, evaluator} <- :rpc.call(node, :lumin_eval, :start, [bridge], 15_000) do
        {:attached, node, %{agent: agent, evaluator: evaluator, port: port, reply: describe(node, owned)}}
      else
        {:error, why} -> throw({:error, why})
        other -> throw({:error, "the agent did not start on #{node}: #{inspect(other)}"})
      end
    after
      release.()
    end
  end

  defp describe(node, owned) do
    elixir =
      case :rpc.call(node, :application, :get_key, [:elixir, :vsn], 5000) do
        {:ok, vsn} -> List.to_string(vsn)
        _ -> nil
      end

    {uptime, _} = :rpc.call(node, :erlang, :statistics, [:wall_clock], 5000)

    %{node: Atom.to_string(node),
      otp_release: List.to_string(:rpc.call(node, :erlang, :system_info, [:otp_release], 5000)),
      elixir_version: elixir,
      process_count: :rpc.call(node, :erlang, :system_info, [:process_count], 5000),
      uptime_ms: uptime,
      language: if(elixir, do: :elixir, else: :erlang),
      owned: owned}
  end

  defp compile_match!(%{match: text} = spec, node, language) when is_binary(text) and text != "" do
    clauses =
      case MatchSpec.compile(text, language) do
        {:ok, c} -> c
        {:error, why} -> throw({:error, why})
      end

    names = clauses |> MatchSpec.atoms() |> Enum.uniq() |> Enum.map(&Atom.to_string/1)
    case :rpc.call(node, :lumin_eval, :missing_atoms, [names], 5000) do
      [] -> Map.put(spec, :match_spec, clauses)
      [a | _] -> throw({:error, "the atom :#{a} does not exist on #{node}, so this pattern can never match anything there"})
      other -> throw({:error, "could not check the pattern on #{node}: #{inspect(other)}"})
    end
  end

  defp compile_match!(spec, _node, _language), do: spec

  defp detach(node, info) do
    send(info.evaluator, :stop)
    catch_exit(fn -> GenServer.call(info.agent, :stop, 5000) end)
    unless info.reply.owned, do: Node.disconnect(node)
    if info[:port], do: spawn(fn -> Process.sleep(3000); LocalNode.stop(info.port) end)
  end

  defp detach_all(s) do
    s.nodes
    |> Enum.map(fn {node, info} -> Task.async(fn -> detach(node, info) end) end)
    |> Task.yield_many(3000)
  end

  defp reply(s, id, {:ok, value}), do: send_frame(s, {:reply, id, :ok, value})
  defp reply(s, id, {:error, message}),
    do: send_frame(s, {:reply, id, :error, %{message: IO.iodata_to_binary(message), kind: :error}})

  defp send_frame(%{port: port}, term), do: Port.command(port, :erlang.term_to_binary(term))
end

defmodule LuminBridge.Shadow do
  @moduledoc """
  The shadow node: where what-if replays run, so that they never touch the node they were recorded on.

  Isolation is by construction. The shadow is started with OTP's `peer` and `connection: :standard_io`: the
  bridge drives it through its stdin/stdout, and it never starts distribution — no node name, no epmd
  entry, no cookie, no connection to anything. It cannot reach the target (or any node) even if replayed
  code tries: a message to one of the target's pids is dropped by a VM that is not alive, a call to a
  node name fails. Nothing of the target's applications is started on it; Elixir's own applications are
  the bridge's (its Elixir), with logging turned off.

  It runs the target's own code: before a replay, the object code of the modules it needs (the replayed
  module, and what it calls, transitively, that is not part of OTP or Elixir) is fetched from the target
  through the bridge's connection (`code:get_object_code/1`, the `.beam` on its code path, checked against
  the loaded module's md5) and loaded here. OTP and Elixir modules are the shadow's own (this machine's
  OTP); when the target's OTP differs, replays say so, and a module that will not load here is named.

  One shadow per bridge, started on first use and reused; it is stopped with the bridge (the peer halts when
  its control channel closes), and started again on the next use if it went away (a replay that exhausted
  its memory, say). This server owns it; replays call it directly (`:peer.call/5`), so this server is never
  busy while a batch runs.
  """
  use GenServer

  @call_timeout 30_000

  # ---- the node ----------------------------------------------------------------------------------------

  def start_link(_ \\ nil), do: GenServer.start(__MODULE__, nil, name: __MODULE__)

  @doc "The shadow's peer process, started if needed: {peer, started_now_ms | nil}."
  def peer! do
    unless Process.whereis(__MODULE__), do: start_link()
    case GenServer.call(__MODULE__, :peer, 60_000) do
      {:ok, peer, ms} -> {peer, ms}
      {:error, why} -> throw({:error, why})
    end
  end

  @doc "Stop the shadow (the next use starts a new one): after an interrupted batch."
  def restart, do: if(Process.whereis(__MODULE__), do: GenServer.call(__MODULE__, :restart, 30_000))

  @doc "What the bridge knows of the shadow's modules: %{module => md5 of the target's code loaded there}."
  def loaded, do: GenServer.call(__MODULE__, :loaded)
  def note_loaded(mods), do: GenServer.cast(__MODULE__, {:loaded, mods})
  def patched, do: GenServer.call(__MODULE__, :patched)
  def note_patched(mods), do: GenServer.cast(__MODULE__, {:patched, mods})

  @impl true
  def init(nil) do
    Process.flag(:trap_exit, true)
    {:ok, %{peer: nil, loaded: %{}, patched: []}}
  end

  @impl true
  def handle_call(:peer, from, %{peer: peer} = s) when is_pid(peer) do
    # Gone, though its exit has not reached this server yet: start a new one.
    if Process.alive?(peer), do: {:reply, {:ok, peer, nil}, s}, else: handle_call(:peer, from, %{s | peer: nil})
  end

  def handle_call(:peer, _from, s) do
    t0 = System.monotonic_time(:millisecond)
    case start_peer() do
      {:ok, peer} -> {:reply, {:ok, peer, System.monotonic_time(:millisecond) - t0}, %{s | peer: peer, loaded: %{}, patched: []}}
      {:error, why} -> {:reply, {:error, why}, s}
    end
  end

  def handle_call(:restart, _from, s) do
    # A peer that is already gone exits the stop call; either way it is gone after.
    if s.peer do
      try do
        :peer.stop(s.peer)
      catch
        :exit, _ -> :ok
      end
    end

    {:reply, :ok, %{s | peer: nil, loaded: %{}, patched: []}}
  end

  def handle_call(:loaded, _from, s), do: {:reply, s.loaded, s}
  def handle_call(:patched, _from, s), do: {:reply, s.patched, s}

  @impl true
  def handle_cast({:loaded, mods}, s), do: {:noreply, %{s | loaded: Map.merge(s.loaded, mods)}}
  def handle_cast({:patched, mods}, s), do: {:noreply, %{s | patched: mods}}
  def handle_cast({:forget, mods}, s), do: {:noreply, %{s | patched: [], loaded: Map.drop(s.loaded, mods)}}

  @impl true
  def handle_info({:EXIT, peer, _}, %{peer: peer} = s), do: {:noreply, %{s | peer: nil, loaded: %{}, patched: []}}
  def handle_info(_, s), do: {:noreply, s}

  defp start_peer do
    # Elixir (for the node's syntax, --args functions, ExUnit) and this agent build (the runner) on its code
    # path; nothing else. Logging off from the start: its stdout is the control channel.
    paths = [Path.dirname(:code.which(:lumin_shadow)) | for(app <- [:elixir, :logger, :ex_unit, :eex], dir = lib(app), do: dir)]
    args = Enum.flat_map(paths, &[~c"-pa", String.to_charlist(&1)]) ++ [~c"-kernel", ~c"logger_level", ~c"none", ~c"+sbwt", ~c"none"]

    try do
      {:ok, peer, _} = :peer.start_link(%{connection: :standard_io, args: args, wait_boot: 30_000})
      {:ok, peer}
    catch
      kind, reason -> {:error, "the shadow node did not start: #{Exception.format_banner(kind, reason)}"}
    end
  end

  defp lib(app) do
    case :code.lib_dir(app, :ebin) do
      {:error, _} -> nil
      dir -> List.to_string(dir)
    end
  end

  # ---- preparing a replay ----------------------------------------------------------------------------

  @doc """
  Make the shadow ready to replay code of `roots` (module atoms known to exist on `node`): fetch from the
  target what is missing or changed, load it, undo an earlier replacement, register sinks for the target's
  registered names. Returns {peer, notes, started_ms}.
  """
  def prepare!(node, roots, redact \\ nil) do
    {peer, started_ms} = peer!()
    setup = pcall(peer, :lumin_shadow, :setup, [target_names(node)])
    # What the replays show is redacted as the kernel redacts terms on the nodes (its policy, or the default).
    if redact, do: pcall(peer, :lumin_redact, :set_policy, [redact.enabled, redact.keys])
    notes = if setup.elixir, do: [], else: ["Elixir is not on the shadow node's code path: terms are shown as Erlang"]

    # A replacement compiled for an earlier replay goes: this one starts from the target's code again.
    # (Deleted outright: fetched again below when this replay needs them.)
    patched = patched()
    pcall(peer, :lumin_shadow, :forget, [patched])
    GenServer.cast(__MODULE__, {:forget, patched})
    loaded = Map.drop(loaded(), patched)

    {fetched, fetch_notes} = fetch(node, roots, loaded)
    failed = pcall(peer, :lumin_shadow, :load, [for({m, {file, bin, _md5}} <- fetched, do: {m, file, bin})])
    note_loaded(for {m, {_, _, md5}} <- fetched, not List.keymember?(failed, m, 0), into: %{}, do: {m, md5})

    load_notes =
      for {m, why} <- failed do
        "#{name(m)} from #{node} would not load on the shadow node (#{inspect(why)}): it runs OTP " <>
          "#{:rpc.call(node, :erlang, :system_info, [:otp_release], 5000)}, the shadow OTP #{:erlang.system_info(:otp_release)}"
      end

    if load_notes != [] and Enum.any?(failed, fn {m, _} -> m in roots end),
      do: throw({:error, Enum.join(load_notes, "; ")})

    {peer, notes ++ fetch_notes ++ load_notes ++ otp_note(node), started_ms}
  end

  defp otp_note(node) do
    theirs = :rpc.call(node, :erlang, :system_info, [:otp_release], 5000)
    ours = :erlang.system_info(:otp_release)
    if theirs == ours, do: [], else: ["#{node} runs OTP #{theirs}; OTP's own modules on the shadow node are OTP #{ours}"]
  end

  # Names registered on the target: they exist there already (no atom is made on it), and become sinks here.
  defp target_names(node) do
    case :rpc.call(node, :erlang, :registered, [], 10_000) do
      names when is_list(names) -> names
      _ -> []
    end
  end

  # The object code of `roots` and of what they call, transitively, that is the application's (not OTP's or
  # Elixir's), fetched from the target when the shadow does not hold that version already.
  defp fetch(node, roots, loaded) do
    all = :rpc.call(node, :code, :all_loaded, [], 30_000)
    unless is_list(all), do: throw({:error, "could not list the modules loaded on #{node}: #{inspect(all)}"})
    files = Map.new(all)
    system = system_dirs(node, files)

    walk(node, roots, MapSet.new(roots), files, system, loaded, roots, {%{}, []})
  end

  defp walk(_node, [], _seen, _files, _system, _loaded, _roots, acc), do: acc

  defp walk(node, [m | rest], seen, files, system, loaded, roots, {got, notes}) do
    file = Map.get(files, m)
    root? = m in roots
    cond do
      file == nil and root? ->
        throw({:error, "#{name(m)} is not loaded on #{node}, so the code that ran there cannot be fetched"})

      file == nil or not is_list(file) or system?(file, system) ->
        walk(node, rest, seen, files, system, loaded, roots, {got, notes})

      true ->
        md5 = :rpc.call(node, m, :module_info, [:md5], 10_000)
        if Map.get(loaded, m) == md5 and is_binary(md5) do
          walk(node, rest, seen, files, system, loaded, roots, {got, notes})
        else
          case :rpc.call(node, :code, :get_object_code, [m], 30_000) do
            {^m, bin, path} ->
              notes = if :beam_lib.md5(bin) == {:ok, {m, md5}}, do: notes,
                else: notes ++ ["the .beam of #{name(m)} on #{node}'s code path is not the version loaded there (the loaded one cannot be read): replayed with the file's"]
              next = for i <- imports(bin), not MapSet.member?(seen, i), Map.has_key?(files, i), do: i
              walk(node, rest ++ next, MapSet.union(seen, MapSet.new(next)), files, system, loaded, roots,
                   {Map.put(got, m, {path, bin, md5}), notes})

            _ when root? ->
              throw({:error, "the object code of #{name(m)} cannot be fetched from #{node} (it was compiled in memory, not from a .beam on its code path), so it cannot be replayed"})

            _ ->
              walk(node, rest, seen, files, system, loaded, roots,
                   {got, notes ++ ["#{name(m)} has no .beam on #{node}'s code path: the shadow node uses its own copy, if any"]})
          end
        end
    end
  end

  defp imports(bin) do
    case :beam_lib.chunks(bin, [:imports]) do
      {:ok, {_, [imports: list]}} -> list |> Enum.map(fn {m, _, _} -> m end) |> Enum.uniq()
      _ -> []
    end
  end

  # OTP's lib tree and Elixir's: their modules are the shadow's own.
  defp system_dirs(node, files) do
    root = :rpc.call(node, :code, :root_dir, [], 5000)
    elixir =
      case Map.get(files, :elixir) do
        f when is_list(f) -> f |> Path.dirname() |> Path.dirname() |> Path.dirname()
        _ -> nil
      end
    Enum.filter([root && to_string(root), elixir], &is_binary/1)
  end

  defp system?(file, system), do: Enum.any?(system, &String.starts_with?(List.to_string(file), &1 <> "/"))

  defp name(m), do: m |> Atom.to_string() |> String.replace_prefix("Elixir.", "")

  defp shadow_gone(:timeout), do: "the shadow node did not answer in time (it is busy, or stuck); it is started again on the next use"
  defp shadow_gone(reason) when reason in [:normal, :noconnection, :killed],
    do: "the shadow node stopped (the replayed code may have halted it); it is started again on the next use"
  defp shadow_gone(reason), do: "the shadow node stopped (#{inspect(reason, limit: 5)}); it is started again on the next use"

  @doc "A call on the shadow; its exceptions come back as errors the user can read."
  def pcall(peer, m, f, a, timeout \\ @call_timeout) do
    :peer.call(peer, m, f, a, timeout)
  catch
    # Only the reason: the call it ended (its arguments: rows, the user's code) stays out of the message.
    :exit, {reason, {_m, _f, _a}} -> throw({:error, shadow_gone(reason)})
    :exit, reason -> throw({:error, shadow_gone(reason)})
    kind, reason -> throw({:error, "the shadow node failed: #{Exception.format_banner(kind, reason)}"})
  end
end

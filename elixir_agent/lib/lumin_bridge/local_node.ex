defmodule LuminBridge.LocalNode do
  @moduledoc """
  Local nodes this kernel starts and owns (`%node start`): an embedded default (Elixir with nothing else
  loaded) or a Mix app (`--app DIR`: compiled, then run with `mix run --no-halt`). Each gets a random
  cookie. The bridge keeps the OS process as a port; the node halts when that port closes (its standard input
  ends), and its agent stops it when the bridge goes.

  The cookie is never on the node's command line (any local user can read that with `ps`) nor in its
  environment: it is written to a file only this user can read, in a folder only this user can enter; the
  node's first command reads it, deletes it and sets it as the node's cookie, then says so. Until then the
  node runs with this user's ~/.erlang.cookie, which only this user can read either.
  """

  @started "lumin: application started"
  @cookie_set "lumin: cookie set"

  @doc "Start `name` (short names, this host); returns the node atom and the port holding the OS process."
  def start(name, app_dir, cookie, timeout_ms) do
    unless Regex.match?(~r/^[A-Za-z][A-Za-z0-9_-]*$/, name),
      do: throw({:error, "node names are letters, digits, _ and -, starting with a letter; #{inspect(name)} is not"})

    host = :inet.gethostname() |> elem(1) |> List.to_string()
    node = :"#{name}@#{host}"
    if node in Node.list(:hidden) ++ Node.list(), do: throw({:error, "#{node} is already attached"})

    case :erl_epmd.names(String.to_charlist(host)) do
      {:ok, names} -> if Enum.any?(names, fn {n, _} -> List.to_string(n) == name end),
                        do: throw({:error, "a node named #{name} already runs on this host; pick another name"})
      _ -> :ok
    end

    :erlang.set_cookie(node, String.to_atom(cookie))
    elixir = System.find_executable("elixir") || throw({:error, "elixir is not on the PATH"})

    {rest, cd} =
      case app_dir do
        nil -> {["--no-halt"], File.cwd!()}
        dir ->
          dir = Path.expand(dir)
          unless File.exists?(Path.join(dir, "mix.exs")), do: throw({:error, "#{dir} has no mix.exs: --app takes a Mix project directory"})
          compile!(dir)
          # mix run evaluates -e after the application has started: the marker says the app is up, so the
          # first cell after %node start finds its registered processes.
          {["-S", "mix", "run", "--no-halt", "-e", "IO.puts(\"#{@started}\")"], dir}
      end

    # The cookie file is made last, just before the node that reads it starts.
    file = cookie_file!(cookie)
    args = ["--sname", name, "-e", set_cookie_code(file)] ++ rest

    port =
      Port.open({:spawn_executable, elixir}, [:binary, :exit_status, :stderr_to_stdout, args: args, cd: cd,
                                              env: [{~c"MIX_ENV", ~c"dev"}]])

    try do
      wait_until_up(node, port, System.monotonic_time(:millisecond) + timeout_ms, "", {false, app_dir == nil})
    after
      # Gone already when the node read it; not left behind when it never did.
      File.rm_rf(Path.dirname(file))
    end
  end

  # A fresh folder (0700) holding the cookie in a file (0600); the node deletes both once it has read it.
  defp cookie_file!(cookie) do
    dir = Path.join(System.tmp_dir!(), "lumin-" <> Base.url_encode64(:crypto.strong_rand_bytes(12), padding: false))
    File.mkdir!(dir)
    File.chmod!(dir, 0o700)
    file = Path.join(dir, "cookie")
    File.write!(file, "")
    File.chmod!(file, 0o600)
    File.write!(file, cookie)
    file
  end

  # Also ties the node's life to the port from its first moment: nothing writes to its standard input, which
  # ends only when the bridge closes the port or dies. Before its agent is loaded (a %node start interrupted,
  # the kernel killed mid-start) nothing else would stop it. Anything but a line ends it: `:eof`, or, when the
  # bridge was gone before the node first wrote to it, `{:error, :terminated}` (its standard output broke and
  # took the standard I/O server with it; every read after gives that again).
  @doc false
  def set_cookie_code(file) do
    "p = #{inspect(file)}; c = File.read!(p); File.rm!(p); File.rmdir(Path.dirname(p)); " <>
      "Node.set_cookie(String.to_atom(c)); " <>
      "spawn(fn -> w = fn w -> case IO.read(:stdio, :line) do l when is_binary(l) -> w.(w); _ -> System.halt(0) end end; w.(w) end); " <>
      "IO.puts(#{inspect(@cookie_set)})"
  end

  defp compile!(dir) do
    case System.cmd("mix", ["compile"], cd: dir, stderr_to_stdout: true, env: [{"MIX_ENV", "dev"}]) do
      {_, 0} -> :ok
      {out, _} -> throw({:error, "mix compile failed in #{dir}:\n#{String.slice(out, -2000, 2000)}"})
    end
  end

  # Up: its cookie set, reachable, and (for a Mix app) its application started.
  defp wait_until_up(node, port, deadline, output, {cookie_set, started}) do
    receive do
      {^port, {:data, d}} ->
        output = String.slice(output <> d, -2000, 2000)
        ready = {cookie_set or String.contains?(output, @cookie_set), started or String.contains?(output, @started)}
        wait_until_up(node, port, deadline, output, ready)

      {^port, {:exit_status, s}} -> throw({:error, "the node exited (status #{s}) before it was reachable:\n#{output}"})
    after
      100 ->
        cond do
          cookie_set and started and Node.connect(node) == true -> {node, port}
          System.monotonic_time(:millisecond) > deadline ->
            stop(port)
            throw({:error, "#{node} did not become reachable in time:\n#{output}"})
          true -> wait_until_up(node, port, deadline, output, {cookie_set, started})
        end
    end
  end

  @doc "Kill the OS process of an owned node (the last resort; the agent normally stops it)."
  def stop(port) do
    case Port.info(port, :os_pid) do
      {:os_pid, pid} -> System.cmd("kill", ["-9", Integer.to_string(pid)], stderr_to_stdout: true)
      _ -> :ok
    end

    try do
      Port.close(port)
    rescue
      _ -> :ok
    end
  end
end

defmodule LuminBridge.LocalNodeTest do
  use ExUnit.Case, async: true

  # An owned node's first command ties its life to its standard input (the bridge's port). It must end the node
  # however the bridge went: its stdin closing while the node boots, and its stdout broken before the node
  # first wrote to it (then every read of stdin gives {:error, :terminated}, never :eof).
  defp run_node_whose_bridge_is_gone(tag) do
    dir = Path.join(System.tmp_dir!(), "lumin-local-node-test-#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    file = Path.join(dir, "cookie")
    File.write!(file, "lumin_local_node_test")
    name = "lumin_ln_#{tag}_#{System.unique_integer([:positive])}"
    code = LuminBridge.LocalNode.set_cookie_code(file)
    # stdin: a pipe that closes at once; stdout: a reader that is gone before the node writes.
    script = "sleep 0.1 | elixir --sname #{name} -e '#{String.replace(code, "'", "'\\''")}' --no-halt | true"
    started = System.monotonic_time(:millisecond)
    task = Task.async(fn -> System.cmd("sh", ["-c", script], stderr_to_stdout: true) end)

    case Task.yield(task, 20_000) || Task.shutdown(task, :brutal_kill) do
      {:ok, _} ->
        System.monotonic_time(:millisecond) - started

      nil ->
        System.cmd("pkill", ["-9", "-f", "sname #{name}"])
        flunk("the node #{name} was still running 20 s after its bridge was gone")
    end
  end

  test "an owned node halts when its bridge is gone before it first wrote to it" do
    assert run_node_whose_bridge_is_gone("gone") < 20_000
  end
end

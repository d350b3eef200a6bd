defmodule LuminBridge.Loader do
  @moduledoc """
  Loads the agent into a target. The list of modules sent is explicit (as Livebook's erl_dist does). They
  are compiled here with the oldest supported OTP (25), so they load on any newer node; if a binary will not
  load (an older or unusual runtime), the module is compiled on the target from its abstract forms instead.
  """

  # The agent says which modules it is made of (one list, also used for cleanup and to recognise its processes).
  def modules, do: :lumin_lib.agent_modules()

  @doc "Load every agent module on `node`. `force_compile` exercises the fallback path."
  def load(node, force_compile \\ false) do
    Enum.reduce_while(modules(), :ok, fn mod, :ok ->
      case load_module(node, mod, force_compile) do
        :ok -> {:cont, :ok}
        {:error, _} = e -> {:halt, e}
      end
    end)
  end

  defp load_module(node, mod, force_compile) do
    {^mod, binary, file} =
      with :error <- :code.get_object_code(mod),
           do: throw({:error, "the agent module #{mod} is not built: run `MIX_ENV=prod mix compile` in elixir_agent"})
    # Old code left by an earlier attach that could not finish its own purge.
    :rpc.call(node, :code, :purge, [mod], 10_000)

    result =
      if force_compile, do: {:error, :forced}, else: :rpc.call(node, :code, :load_binary, [mod, file, binary], 10_000)

    case result do
      {:module, ^mod} -> :ok
      _ -> compile_on_target(node, mod, file)
    end
  end

  defp compile_on_target(node, mod, beam_file) do
    with {:ok, {^mod, [abstract_code: {:raw_abstract_v1, forms}]}} <- :beam_lib.chunks(beam_file, [:abstract_code]),
         {:ok, ^mod, binary} <- :rpc.call(node, :compile, :forms, [forms, [:binary, :return_errors]], 60_000),
         {:module, ^mod} <- :rpc.call(node, :code, :load_binary, [mod, ~c"#{mod}.erl", binary], 10_000) do
      :ok
    else
      other -> {:error, "the agent module #{mod} could not be loaded on #{node}: #{inspect(other)}"}
    end
  end
end

defmodule Shop.Events do
  @moduledoc """
  Emits :telemetry events when the node has the telemetry library (a Hex package, so absent here); always
  logs at debug level. Kept tiny so the app has no dependencies.
  """
  require Logger

  def emit(event, measurements, metadata) do
    # function_exported?/3 only looks at loaded code: no code-path search per event.
    if function_exported?(:telemetry, :execute, 3), do: apply(:telemetry, :execute, [event, measurements, metadata])
    Logger.debug("event #{inspect(event)} #{inspect(measurements)}")
  end
end

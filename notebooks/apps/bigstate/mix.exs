defmodule BigState.MixProject do
  use Mix.Project

  # The production shape that broke a debugging tool: a GenServer holding ~40 MB of state (a queue
  # process of a broker), a call that replies with the whole state, and a stream of casts. Tests probe it
  # and compare the node's memory with the same workload unprobed. No dependencies.
  def project do
    [app: :big_state, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [mod: {BigState.Application, []}, extra_applications: [:logger]]
  end
end

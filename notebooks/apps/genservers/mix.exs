defmodule Genservers.MixProject do
  use Mix.Project

  # The app of the tour "GenServer: call, cast, info, continue and timeouts"
  # (notebooks/tours/02-genserver.ipynb): a counter server the notebook starts itself, and a caller that
  # gives up waiting. No dependencies.
  def project do
    [app: :genservers, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application, do: []
end

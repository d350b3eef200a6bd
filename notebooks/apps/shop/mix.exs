defmodule Shop.MixProject do
  use Mix.Project

  # A small shop for tours, investigations and tests: a supervision tree with GenServers, a pricing
  # function whose calls a test can count, an order path with a planted slow case, and a worker that
  # crashes on demand. No dependencies.
  def project do
    [app: :shop, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [mod: {Shop.Application, []}, extra_applications: [:logger]]
  end
end

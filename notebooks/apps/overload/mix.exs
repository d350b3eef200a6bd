defmodule Overload.MixProject do
  use Mix.Project

  # The app of the tour "Overload and backpressure" (notebooks/tours/06-overload-and-backpressure.ipynb): one
  # job server three ways — naive, bounded with demand, shedding load — and a load generator. No dependencies.
  def project do
    [app: :overload, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application, do: [mod: {Overload.Application, []}]
end

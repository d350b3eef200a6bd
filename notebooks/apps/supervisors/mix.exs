defmodule Supervisors.MixProject do
  use Mix.Project

  # The app of the tour "Supervisors" (notebooks/tours/04-supervisors.ipynb): one supervisor per restart
  # strategy, a team whose restart intensity a flaky worker exhausts, and a playground for the exercise.
  # No dependencies.
  def project do
    [app: :supervisors, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application, do: [mod: {Supervisors.Application, []}]
end

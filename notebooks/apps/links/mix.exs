defmodule Links.MixProject do
  use Mix.Project

  # The app of the tour "Links, monitors and trap_exit" (notebooks/tours/03-links-and-monitors.ipynb):
  # an arena process that plays out small scenarios of linked and monitored processes. No dependencies.
  def project do
    [app: :links, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application, do: [mod: {Links.Application, []}]
end

defmodule Tasks.MixProject do
  use Mix.Project

  # The app of the tour "Tasks" (notebooks/tours/05-tasks.ipynb): a job function to time, a Task.Supervisor,
  # and an arena that starts callers whose fate the tour watches. No dependencies.
  def project do
    [app: :tasks, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application, do: [mod: {Tasks.Application, []}]
end

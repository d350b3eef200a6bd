defmodule Mailboxes.MixProject do
  use Mix.Project

  # The app of the tour "Processes, messages and mailboxes" (notebooks/tours/01-processes-and-mailboxes.ipynb):
  # an echo server and experiments on one process's mailbox. No dependencies.
  def project do
    [app: :mailboxes, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [mod: {Mailboxes.Application, []}]
  end
end

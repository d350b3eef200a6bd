defmodule Secrets.MixProject do
  use Mix.Project

  # An app that holds secrets the way real apps do, for the redaction tests: a GenServer whose state keeps a
  # user's password and token, a login function that takes the password positionally, messages that carry
  # it, and a log line with an `authorization:` value. The secrets live only here (never in a notebook cell),
  # so a test can look for them in everything the kernel wrote. No dependencies.
  def project do
    [app: :secrets, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [mod: {Secrets.Application, []}, extra_applications: [:logger]]
  end
end

defmodule ElixirAgent.MixProject do
  use Mix.Project

  # The bridge (lib/, Elixir) runs on the kernel's own hidden local node. The agent (src/, Erlang only)
  # is loaded into target nodes on attach, so it runs on OTP 25+ nodes with no Elixir at all.
  def project do
    [
      app: :elixir_agent,
      version: "0.1.0",
      elixir: "~> 1.14",
      erlc_paths: ["src"],
      erlc_options: [:debug_info, :warnings_as_errors],
      start_permanent: false,
      deps: []
    ]
  end

  def application do
    [extra_applications: [:logger, :runtime_tools, :crypto]]
  end
end

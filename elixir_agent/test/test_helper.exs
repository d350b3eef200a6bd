Code.require_file("support/batch.exs", __DIR__)
ExUnit.start()

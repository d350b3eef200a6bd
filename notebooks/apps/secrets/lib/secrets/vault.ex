defmodule Secrets.Vault do
  @moduledoc """
  Keeps one user's credentials in its state (`%{user: ..., password: ..., token: ...}`) and a session id in
  its process dictionary. `login(user, password)` takes the password positionally, sends it to the server in a
  `{:login, user, password}` call, logs the attempt with an `authorization:` header, and returns
  `{:ok, token}`. `run(n)` makes `n` logins with the right password and one `{:login, user, password}` info
  message, so a notebook can drive it without ever writing a secret in a cell. `fail()` calls
  `verify(user, password)` with the real password and no clause matches: the error's stacktrace carries it.
  """
  use GenServer
  require Logger

  @user "alice"
  @password "hunter2-Qx7vLm"
  @token "tok-9FzR2kWp4T"
  @authorization "Basic YWxpY2U6cXg3dkxt"
  @session "sess-Jd82HqPz"

  def start_link(_), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  def login(user, password), do: GenServer.call(__MODULE__, {:login, user, password})

  def run(n) do
    for _ <- 1..n, do: {:ok, _} = login(@user, @password)
    send(__MODULE__, {:login, @user, @password})
    :ok
  end

  def fail, do: verify(@user, @password)

  def verify(user, password) when user == "nobody", do: password

  @impl true
  def init(:ok) do
    Process.put(:session_id, @session)
    {:ok, %{user: @user, password: @password, token: @token, logins: 0}}
  end

  @impl true
  def handle_call({:login, user, password}, _from, %{user: user, password: password} = s) do
    Logger.info([event: "login", user: user, authorization: @authorization])
    {:reply, {:ok, s.token}, %{s | logins: s.logins + 1}}
  end

  def handle_call({:login, _, _}, _from, s), do: {:reply, :error, s}

  @impl true
  def handle_info({:login, _user, _password}, s), do: {:noreply, s}
end

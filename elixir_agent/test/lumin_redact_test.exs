defmodule LuminRedactTest do
  @moduledoc """
  Redaction on the node (lumin_redact): secret keys in maps, structs, keyword lists and records, parameters
  named as secrets in a module's source, values remembered as secret, and no atom made on the way.

  Modules whose debug info is read are compiled by `erlc`/`elixirc` in a separate OS process, so their
  variable names are not atoms in this node — as on a production node, where only the compiled code is.
  """
  use ExUnit.Case, async: false

  @marker :lumin_redacted

  defmodule Account do
    defstruct [:user, :api_token, :plan]
  end

  setup do
    # The table belongs to the test's process: a fresh policy for each test, gone when it ends.
    if :ets.info(:lumin_redact) != :undefined, do: :ets.delete(:lumin_redact)
    :ok = :lumin_redact.start()
    :ok
  end

  defp r(t), do: :lumin_redact.term(t)

  test "values under secret keys are redacted in maps, structs, keyword lists and nested terms, case-insensitively" do
    assert r(%{user: "ann", password: "pw-1234"}) == %{user: "ann", password: @marker}
    assert r(%{"Authorization" => "Bearer abc", "x" => 1}) == %{"Authorization" => @marker, "x" => 1}
    assert r(%{DB_PASSWORD: "x"}) == %{DB_PASSWORD: @marker}, "a key containing a policy key, in any case"
    assert r(%Account{user: "ann", api_token: "t-999999", plan: :pro}) == %Account{user: "ann", api_token: @marker, plan: :pro}
    assert r([user: "ann", authorization: "Basic zzz", retries: 3]) == [user: "ann", authorization: @marker, retries: 3]
    assert r([{"session_id", "s-1"}, {:other, 2}]) == [{"session_id", @marker}, {:other, 2}]
    nested = {:ok, [%{conn: %{headers: [cookie: "c=1"], secret_key_base: "kkkkkkkk"}}], {:state, %{private_key: <<1, 2, 3>>}}}
    assert r(nested) == {:ok, [%{conn: %{headers: [cookie: @marker], secret_key_base: @marker}}], {:state, %{private_key: @marker}}}
    # Nothing secret: the very same term comes back (no copy is made).
    plain = %{user: "ann", items: [1, 2, 3], at: {1, 2}}
    assert :erts_debug.same(r(plain), plain)
    assert r(42) == 42 and r(:password) == :password, "a bare atom is a key's name, not a secret"
    assert r(%{<<255, 0>> => "x", "token" => "t-1"}) == %{<<255, 0>> => "x", "token" => @marker}, "a key that is not text"
  end

  test "a value found under a secret key is redacted wherever it appears afterwards, whole or inside text" do
    assert r(%{password: "hunter2-xyz"}) == %{password: @marker}
    assert r({:login, "ann", "hunter2-xyz"}) == {:login, "ann", @marker}
    assert r(~c"hunter2-xyz") == @marker, "as a charlist too"
    assert r("login failed for hunter2-xyz today") == "login failed for [redacted] today"
    assert r({:ok, "other"}) == {:ok, "other"}
    # Short values would redact common words: they are redacted under their key but not looked for elsewhere.
    assert r(%{token: "abc"}) == %{token: @marker}
    assert r({:ok, "abc"}) == {:ok, "abc"}
    # The set is bounded.
    for i <- 1..1_100, do: r(%{secret: "value-#{i}-padding"})
    assert :ets.lookup_element(:lumin_redact, :seen_count, 2) <= 1000
    assert r("value-5-padding") == @marker
  end

  test "what one process learns is node-wide: every other process's next terms, and its learned/0 count, see it at once" do
    before = :lumin_redact.learned()
    # Another process (another probe's collector, %state) finds the password under its key.
    Task.async(fn -> r(%{password: "shared-pw-4411"}) end) |> Task.await()
    # An encoder that noted learned/0 before it began sees it changed, and encodes its batch again.
    assert :lumin_redact.learned() > before
    assert r({:login, "ann", "shared-pw-4411"}) == {:login, "ann", @marker}
    cells = :lumin_redact.redactor()
    assert cells.("token=shared-pw-4411") == "token=[redacted]"
  end

  test "the policy can be changed: keys added and removed, or redaction turned off" do
    :ok = :lumin_redact.set_policy(true, ["pin"])
    assert r(%{pin: "1234", password: "p"}) == %{pin: @marker, password: "p"}
    :ok = :lumin_redact.set_policy(false, :lumin_redact.default_keys())
    assert r(%{password: "p"}) == %{password: "p"}
    assert :lumin_redact.policy() == %{enabled: false, keys: :lumin_redact.default_keys()}
  end

  test "a cut term is redacted in what is kept of it, and lumin_columns redacts every term cell it encodes" do
    big = %{password: "pw-777777", blob: String.duplicate("x", 100_000)}
    assert {:lumin_cut, _, prefix} = :lumin_columns.cut_term(big)
    assert prefix[:password] == @marker
    b = :lumin_columns.new(v: :terms)
    b = :lumin_columns.add([%{token: "tok-55555"}], b)
    %{columns: %{v: {:terms, <<0::32, e1::32-little>>, data}}} = :erlang.binary_to_term(:lumin_columns.encode(:state, 0, b))
    assert :erlang.binary_to_term(binary_part(data, 0, e1)) == %{token: @marker}
  end

  test "a column of small tuples: each tag's pairs are redacted or kept by their own key, whatever came before" do
    # The column takes one verdict per tag and size for tuples of immediates: a run of clean ones must not let
    # a secret key's pair through, nor a secret key's pair redact the clean ones after it.
    values = [{:flood, 1}, {:flood, 2}, {:token, 5}, {:token, 6}, {:flood, 3}, {:auth_token, :x, 1}, {:flood, 4, 5}]
    {:terms, <<0::32, ends::binary>>, data} = :lumin_columns.column(:terms, values)
    offsets = [0 | for(<<e::32-little <- ends>>, do: e)]
    decoded = for [a, b] <- Enum.chunk_every(offsets, 2, 1, :discard), do: :erlang.binary_to_term(binary_part(data, a, b - a))
    assert decoded == [{:flood, 1}, {:flood, 2}, {:token, @marker}, {:token, @marker}, {:flood, 3}, {:auth_token, :x, 1}, {:flood, 4, 5}]
    # The same inside a gen_server's cast: the pair's key decides at any depth.
    casts = [{:"$gen_cast", {:n, 1}}, {:"$gen_cast", {:n, 2}}, {:"$gen_cast", {:token, 3}}, {:"$gen_cast", {:n, 4.5}}, {:"$gen_cast", {:n, 5}}]
    {:terms, <<0::32, ends::binary>>, data} = :lumin_columns.column(:terms, casts)
    offsets = [0 | for(<<e::32-little <- ends>>, do: e)]
    decoded = for [a, b] <- Enum.chunk_every(offsets, 2, 1, :discard), do: :erlang.binary_to_term(binary_part(data, a, b - a))
    assert decoded == [{:"$gen_cast", {:n, 1}}, {:"$gen_cast", {:n, 2}}, {:"$gen_cast", {:token, @marker}}, {:"$gen_cast", {:n, 4.5}}, {:"$gen_cast", {:n, 5}}]
  end

  test "a column of terms of one shape is cut by the shape: one too big for the cut size is still cut" do
    Process.put(:"$lumin_cut", 256)
    small = {:s, {1, 2}}
    big = {:s, {1, String.duplicate("x", 4000)}}
    {:terms, <<0::32, ends::binary>>, data} = :lumin_columns.column(:terms, [small, small, big, small])
    offsets = [0 | for(<<e::32-little <- ends>>, do: e)]
    decoded = for [a, b] <- Enum.chunk_every(offsets, 2, 1, :discard), do: :erlang.binary_to_term(binary_part(data, a, b - a))
    assert [^small, ^small, {:lumin_cut, _, _}, ^small] = decoded
  after
    Process.delete(:"$lumin_cut")
  end

  test "a secret found in a batch is redacted in the rows and columns beside it, not only after it" do
    b = :lumin_columns.new(message: :terms, state: :terms)
    b = :lumin_columns.add([{:login, "ann", "pw-beside-1"}, %{n: 0}], b)
    b = :lumin_columns.add([:tick, %{password: "pw-beside-1"}], b)
    %{columns: %{message: {:terms, <<0::32, e1::32-little, _::binary>>, data}}} =
      :erlang.binary_to_term(:lumin_columns.encode(:state, 0, b))
    assert :erlang.binary_to_term(binary_part(data, 0, e1)) == {:login, "ann", @marker}
  end

  @tag :tmp_dir
  test "arguments are redacted by their parameter's name in the source, Erlang and Elixir, without creating atoms", %{tmp_dir: dir} do
    # Parameter names that are atoms nowhere in this node.
    File.write!(Path.join(dir, "lumin_redact_fixture_erl.erl"), """
    -module(lumin_redact_fixture_erl).
    -export([login/2, plain/2]).
    -record(lumin_fixture_creds, {user, zz_unique_password_field_q7, note}).
    login(UserNameQ7x, Zq7ApiKeyUniqueVar) -> {UserNameQ7x, Zq7ApiKeyUniqueVar, #lumin_fixture_creds{}}.
    plain(Aq7UniqueVar, Bq7UniqueVar) -> {Aq7UniqueVar, Bq7UniqueVar}.
    """)
    {_, 0} = System.cmd("erlc", ["+debug_info", "-o", dir, Path.join(dir, "lumin_redact_fixture_erl.erl")])
    File.write!(Path.join(dir, "fixture.ex"), """
    defmodule LuminRedactFixtureEx do
      def login(user_q7_unique, password_q7_unique), do: {user_q7_unique, password_q7_unique}
      def login(%{} = map_q7_unique), do: map_q7_unique
    end
    """)
    {_, 0} = System.cmd("elixirc", ["-o", dir, Path.join(dir, "fixture.ex")], stderr_to_stdout: true)
    {:module, erl} = :code.load_abs(String.to_charlist(Path.join(dir, "lumin_redact_fixture_erl")))
    {:module, ex} = :code.load_abs(String.to_charlist(Path.join(dir, "Elixir.LuminRedactFixtureEx")))

    # OTP's own modules that reading debug info uses are loaded first (loading a module adds its atoms).
    :lumin_debug_info.read(:lists)
    atoms = :erlang.system_info(:atom_count)
    assert :lumin_redact.args({erl, :login, 2}, ["ann", "key-424242"]) == ["ann", @marker]
    assert :lumin_redact.args({ex, :login, 2}, ["ann", "pw-434343"]) == ["ann", @marker]
    assert :lumin_redact.args({erl, :plain, 2}, ["ann", "x"]) == ["ann", "x"]
    assert :lumin_redact.args({ex, :login, 1}, [%{a: 1}]) == [%{a: 1}]
    # ... and the value is then known as secret elsewhere.
    assert r({:login, "ann", "pw-434343"}) == {:login, "ann", @marker}
    # A record defined in a module whose debug info was read: its secret field, by position.
    assert r({:lumin_fixture_creds, "ann", "s3cr3t-value", "n"}) == {:lumin_fixture_creds, "ann", @marker, "n"}
    # The columns of a call probe: an argument list redacted through its function's parameters.
    {:terms, <<0::32, e1::32-little>>, data} = :lumin_columns.column(:cut_args, [{{ex, :login, 2}, ["bo", "pw-545454"]}])
    assert :erlang.binary_to_term(binary_part(data, 0, e1)) == ["bo", @marker]
    # Policy keys are compared as text: a new key is never an atom.
    :ok = :lumin_redact.set_policy(true, ["never_an_atom_key_q7"])
    assert r(%{"never_an_atom_key_q7_x" => 1}) == %{"never_an_atom_key_q7_x" => @marker}
    assert :erlang.system_info(:atom_count) == atoms, "reading debug info and the policy created no atom"
    for name <- ["zq7apikeyuniquevar", "Zq7ApiKeyUniqueVar", "password_q7_unique", "never_an_atom_key_q7"] do
      assert_raise ArgumentError, fn -> String.to_existing_atom(name) end
    end

  end

  @tag :tmp_dir
  test "a module without debug info: its arguments are redacted only by what they hold", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "lumin_redact_fixture_nodbg.erl"), """
    -module(lumin_redact_fixture_nodbg).
    -export([login/2]).
    login(User, Password) -> {User, Password}.
    """)
    {_, 0} = System.cmd("erlc", ["-o", dir, Path.join(dir, "lumin_redact_fixture_nodbg.erl")])
    {:module, m} = :code.load_abs(String.to_charlist(Path.join(dir, "lumin_redact_fixture_nodbg")))
    assert :lumin_redact.args({m, :login, 2}, ["ann", "pw-1"]) == ["ann", "pw-1"]
    assert :lumin_redact.args({m, :login, 2}, ["ann", %{password: "pw-1"}]) == ["ann", %{password: @marker}]
  end

  test "log text: remembered values and the marker's printed forms read [redacted]" do
    r(%{password: "hunter2-log"})
    assert :lumin_redact.text("user=ann password: lumin_redacted; again hunter2-log") ==
             "user=ann password: [redacted]; again [redacted]"
  end
end

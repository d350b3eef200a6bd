/**
 * What-if replays (issue 12) through a real Jupyter client, on the sample shop app started by the kernel:
 * recorded calls and GenServer messages re-run on the shadow node, with the same code (same results on every
 * row), other arguments, another state and replacement code; what the target sees of it (nothing); sends and
 * calls out; bad input.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKernel, stdout, type KernelClient } from "../support/jupyter";
import { cellError, cellJson, descendants, elixirCell, ErlNode, SHOP_APP, startShopKernel, uniqueName, waitFor } from "../support/beam";

let k: KernelClient;
const SHOP = uniqueName("whatif");
const ex = (code: string) => elixirCell(k, code);
let cells = 0;
/** The rows of a table a cell makes, as plain objects (terms as text). */
function rowsOf(code: string, columns = "*"): Promise<any[]> {
  const v = `wt${++cells}`;
  const select = columns === "*" ? "" : `.select(${columns.split(",").map((c) => JSON.stringify(c.trim())).join(", ")})`;
  return cellJson(k, `const ${v} = ${code}\nconsole.log(JSON.stringify(${v}${select}.objects().map((r: any) => Object.fromEntries(Object.entries(r).map(([c, x]) => [c, x != null && typeof x === "object" && !Array.isArray(x) ? String(x) : x])))))`, 120);
}

/** Arm a call probe with --args as `name`, run `traffic` on the node, and end the probe with its rows in. */
async function record(name: string, target: string, traffic: string): Promise<void> {
  await k.execute(`%probe ${target} --args --as ${name}`);
  await ex(traffic);
  await k.execute(`%disarm ${name}`);
  await k.execute(`%events ${name} --wait=5s`);
}

/** Run a %%whatif cell (a cell magic binds nothing), then read its table by name. */
async function cellRows(cell: string, name: string, columns = "*"): Promise<any[]> {
  const r = await k.execute(cell, { timeout: 120 });
  const err = r.messages.find((m) => m.msg_type === "error");
  if (err) throw new Error(`cell failed: ${err.content.evalue}`);
  return rowsOf(`%events ${name} --rows 1000`, columns);
}

beforeAll(async () => {
  k = await startShopKernel(SHOP);
  await ex(`Shop.Inventory.restock("apple", 1_000_000)`);
}, 200_000);

afterAll(async () => {
  await k?.shutdown();
});

describe("%whatif on a call probe", () => {
  it("replaying recorded calls with the same code gives the same result on every row", async () => {
    await record("prices", "Shop.Pricing.price/2", `for q <- 1..40, do: Shop.Pricing.price("apple", q)`);
    const rows = await rowsOf("%whatif prices --as same", "row,function,outcome,same,recorded,replayed,args,recorded_us,replayed_us,sent_count");
    expect(rows).toHaveLength(40);
    for (const r of rows) {
      expect(r).toMatchObject({ function: "Shop.Pricing.price/2", outcome: "return", same: true, sent_count: 0 });
      expect(r.replayed).toBe(r.recorded);
      expect(r.replayed_us).toBeGreaterThan(0);
    }
  });
});

describe("%whatif with other arguments, and %%whatif with replacement code", () => {
  it("--args: results change exactly as the new arguments make them (checked against the node itself)", async () => {
    await record("prices2", "Shop.Pricing.price/2", `for q <- 1..40, do: Shop.Pricing.price("apple", q)`);
    // TABLE may be a TypeScript variable holding the probe's table.
    await k.execute("const pricesTable = %events prices2");
    const rows = await rowsOf(`%whatif pricesTable --args "fn [item, qty] -> [item, qty * 2] end" --where "d => d.args != null"`, "row,args,replayed,same,recorded");
    expect(rows).toHaveLength(40);
    const onNode = (await ex(`Enum.map(1..40, &Shop.Pricing.price("apple", &1 * 2))`)).replace(/[\[\]\s]/g, "").split(",").map(Number);
    rows.sort((a, b) => a.row - b.row);
    expect(rows.map((r) => Number(r.replayed))).toEqual(onNode);
    expect(rows.map((r) => r.args)).toEqual(Array.from({ length: 40 }, (_, i) => `["apple", ${(i + 1) * 2}]`));
    expect(rows.every((r) => r.same === false)).toBe(true);
  });

  it("%%whatif: a patched module makes the slow calls fast with the same results; another patch changes results exactly where it applies", async () => {
    await record("totals", "Shop.Orders.total/2", `for i <- 1..60, do: Shop.Orders.place("apple", if(rem(i, 20) == 0, do: 120 + i, else: rem(i, 9) + 1))`);
    const patched = `%%whatif totals --as fast
defmodule Shop.Orders do
  def total(item, qty), do: Shop.Pricing.price(item, qty)
end`;
    const rows = await cellRows(patched, "fast", "args,outcome,same,recorded_us,replayed_us");
    expect(rows).toHaveLength(60);
    const bulk = rows.filter((r) => Number(String(r.args).match(/(\d+)\]$/)![1]) > 100);
    expect(bulk).toHaveLength(3);
    for (const r of rows) expect(r).toMatchObject({ outcome: "return", same: true });
    for (const r of bulk) {
      expect(r.recorded_us).toBeGreaterThan(20_000);
      expect(r.replayed_us).toBeLessThan(10_000);
    }
    const discount = `%%whatif totals --as discount
defmodule Shop.Orders do
  def total(item, qty) when qty > 100, do: div(Shop.Pricing.price(item, qty) * 95, 100)
  def total(item, qty), do: Shop.Pricing.price(item, qty)
end`;
    const changed = await cellRows(discount, "discount", "args,same,diff");
    const differing = changed.filter((r) => r.same === false).map((r) => r.args).sort();
    expect(differing).toEqual(bulk.map((r) => r.args).sort());
    expect(changed.find((r) => r.same === false).diff).toMatch(/^result: \d+ → \d+$/);
    // The next what-if runs the node's code again, not the patch.
    const again = await rowsOf("%whatif totals --as again", "same");
    expect(again.every((r) => r.same === true)).toBe(true);
  }, 120_000);
});

describe("isolation, checked from the target's side", () => {
  it("after replays with new code, the node's module, processes, connections and epmd are as before, and it received nothing", async () => {
    await record("orders", "Shop.Orders.handle_call/3", `for q <- [1, 2, 3], do: Shop.Orders.place("apple", q)`);
    await k.execute("%probe --messages Shop.Inventory --as inbox");
    const look = async () => {
      const r = await k.execute(`%%elixir
{:ok, names} = :erl_epmd.names()
%{md5: Base.encode16(Shop.Orders.module_info(:md5)), procs: length(Process.list()), connected: Enum.map(Node.list(:connected), &to_string/1),
  epmd: Enum.sort(Enum.map(names, fn {n, _} -> to_string(n) end))}`);
      return String(r.messages.find((m) => m.msg_type === "display_data")?.content.data["text/plain"]);
    };
    const inbox = () => cellJson(k, `const inb${++cells} = %events inbox\nconsole.log(JSON.stringify(inb${cells}.numRows()))`);
    await new Promise((r) => setTimeout(r, 300));
    const before = await look();
    const seenBefore = await inbox();
    const rows = await cellRows(`%%whatif orders --as iso
defmodule Shop.Orders do
  def handle_call({:place, item, qty}, _from, count) do
    send(Shop.Inventory, {:restock, item, 5})
    {:reply, Shop.Inventory.reserve(item, qty), count + 1}
  end
end`, "iso", "outcome,would_call,sent_count,replayed_us");
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      // The call through the registered name is stopped at once: no 5 s wait per row.
      expect(r).toMatchObject({ outcome: "would_call", would_call: "Shop.Inventory", sent_count: 2 });
      expect(r.replayed_us).toBeLessThan(1_000_000);
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = await look();
    expect(await inbox()).toBe(seenBefore);
    await k.execute("%disarm inbox");
    expect(before).toMatch(/md5: "[0-9A-F]{32}"/);
    // The machine's epmd is shared with other runs: what is compared is everything else, and that no name
    // came up that a shadow or peer node would have (it has none: it never starts distribution).
    const epmd = (look: string) => [...look.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    expect(after.replace(/epmd: \[[^\]]*\]/, "")).toBe(before.replace(/epmd: \[[^\]]*\]/, ""));
    const added = epmd(after.match(/epmd: \[[^\]]*\]/)![0]).filter((n) => !epmd(before).includes(n));
    expect(added.filter((n) => /shadow|peer|whatif/i.test(n))).toEqual([]);
  }, 120_000);
});

describe("%whatif on a state probe", () => {
  it("re-runs each callback with the recorded state and message (same everywhere), then with another state: the replies that would have differed", async () => {
    await k.execute("%probe --state Shop.Inventory --as inv");
    await ex(`Shop.Inventory.restock("pear", 10)
Shop.Inventory.reserve("pear", 3)
Shop.Inventory.stock("pear")
Shop.Inventory.reserve("pear", 50)`);
    await k.execute("%disarm inv");
    await k.execute("%events inv --wait=5s");
    const same = await rowsOf("%whatif inv --as inv_same", "seq,function,outcome,same,recorded,replayed");
    expect(same.map((r) => [r.function, r.outcome, r.same])).toEqual([
      ["Shop.Inventory.handle_cast/2", "return", true],
      ["Shop.Inventory.handle_call/3", "return", true],
      ["Shop.Inventory.handle_call/3", "return", true],
      ["Shop.Inventory.handle_call/3", "return", true],
    ]);
    expect(same.map((r) => r.replayed)).toEqual([null, ":ok", "7", "{:error, :out_of_stock}"]);
    const empty = await rowsOf(`%whatif inv --state "fn stock -> Map.put(stock, \\"pear\\", 0) end" --as inv_empty`, "same,replayed,replayed_state,diff");
    // Each row starts from its own recorded state, changed by --state: the restock lands on 0 + 10 as it did
    // on nothing + 10; the reserve and the stock query answer differently; the refused reserve leaves 0, not 7.
    expect(empty.map((r) => r.same)).toEqual([true, false, false, false]);
    expect(empty[1].replayed).toBe("{:error, :out_of_stock}");
    expect(empty[1].diff).toContain('reply: :ok → {:error, :out_of_stock}');
    expect(empty[0].replayed_state).toContain('"pear" => 10');
  });
});

describe("sends, calls out and loops on the shadow node", () => {
  it("a cast to a registered process is listed and not delivered; the node's stock is unchanged", async () => {
    await record("restocks", "Shop.Inventory.restock/2", `Shop.Inventory.restock("plum", 4)`);
    const before = await ex(`Shop.Inventory.stock("plum")`);
    const [r] = await rowsOf("%whatif restocks --as casts", "outcome,same,sent,sent_count");
    expect(r).toMatchObject({ outcome: "return", same: true, sent_count: 1 });
    expect(r.sent).toMatch(/\{.*\{:"\$gen_cast", \{:restock, "plum", 4\}\}\}/);
    expect(await ex(`Shop.Inventory.stock("plum")`)).toBe(before);
  });

  it("a replay that loops forever is stopped at its timeout; the shadow node goes on replaying", async () => {
    await record("counts", "Enum.count/1", `Enum.count([1, 2, 3])`);
    const t0 = Date.now();
    const [loop] = await rowsOf(`%whatif counts --args "fn _ -> [Stream.cycle([1])] end" --timeout 1s --as loop`, "outcome,error,replayed_us");
    expect(loop.outcome).toBe("timeout");
    expect(loop.error).toMatch(/still running after 1000 ms: stopped/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const [ok] = await rowsOf("%whatif counts --as after_loop", "outcome,same,replayed");
    expect(ok).toMatchObject({ outcome: "return", same: true, replayed: "3" });
  });
  it("replayed code that stops the shadow node itself: a clear error, and the next what-if starts a new shadow", async () => {
    await record("counts3", "Enum.count/1", `Enum.count([1, 2])`);
    const halted = await cellError(k, `%whatif counts3 --args "fn _ -> System.halt(0) end"`);
    expect(halted).toBe("the shadow node stopped (the replayed code may have halted it); it is started again on the next use");
    const next = await k.execute("%whatif counts3 --as after_halt");
    const caption = String(next.messages.find((m) => m.msg_type === "execute_result")?.content.data["text/plain"]);
    expect(caption).toMatch(/1 replay: 1 same result/);
    expect(caption).toMatch(/the shadow node started in \d+ ms/);
  });

  it("an interrupted what-if ends at once; the shadow node is started again for the next one", async () => {
    await record("counts2", "Enum.count/1", `Enum.count([1, 2, 3])`);
    const t0 = Date.now();
    const r = await k.execute(`%whatif counts2 --args "fn _ -> [Stream.cycle([1])] end" --timeout 60s --as stuck`, { interruptAfter: 2, timeout: 30 });
    expect(r.messages.find((m) => m.msg_type === "error")?.content.ename).toBe("Interrupted");
    expect(Date.now() - t0).toBeLessThan(20_000);
    const next = await k.execute("%whatif counts2 --as after_stuck");
    const caption = String(next.messages.find((m) => m.msg_type === "execute_result")?.content.data["text/plain"]);
    expect(caption).toMatch(/1 replay: 1 same result/);
    expect(caption).toMatch(/the shadow node started in \d+ ms/);
  });
});

describe("%chart whatif and %explain", () => {
  it("draw recorded vs replayed durations and say what changed, from the what-if's name", async () => {
    await record("totals2", "Shop.Orders.total/2", `for q <- [1, 2, 130, 3], do: Shop.Orders.place("apple", q)`);
    await k.execute(`%%whatif totals2 --as fixed
defmodule Shop.Orders do
  def total(item, qty) when qty > 100, do: Shop.Pricing.price(item, qty) - 1
  def total(item, qty), do: Shop.Pricing.price(item, qty)
end`);
    const chart = await k.execute("%chart whatif fixed");
    const bundle = chart.messages.find((m) => m.msg_type === "execute_result")!.content.data;
    expect(bundle["image/png"]).toBeTruthy();
    const spec = bundle["application/vnd.vegalite.v5+json"];
    expect(spec.title.text).toBe("Recorded vs replayed duration");
    expect(spec.layer[1].data.values).toHaveLength(4);
    expect(spec.layer[1].data.values.filter((d: any) => d.status === "different")).toHaveLength(1);
    const explained = await k.execute("%explain fixed");
    const text = explained.messages.find((m) => m.msg_type === "execute_result")!.content.data["text/plain"];
    expect(text).toMatch(/4 replays of Shop\.Orders\.total\/2: 3 gave the same result as recorded, 1 a different one/);
    expect(text).toMatch(/What changed at row \d+ \(\["apple", 130\]\): result: \d+ → \d+/);
    expect(text).toMatch(/The slowest recorded call, row \d+ \(\["apple", 130\]\), took [\d.]+ ms; replayed, [\d.]+ µs\./);
    expect(text).toMatch(/replays? ran in under half the recorded time/);
    // A what-if travels like a probe's table: saved as Arrow, loaded back, explained the same.
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "lumin-whatif-cap-")), "fixed.arrow");
    expect(stdout(await k.execute(`%capture save fixed ${file}`))).toMatch(/fixed/);
    await k.execute(`%capture load ${file} --as fixed_again`);
    const again = await k.execute("%explain fixed_again");
    expect(again.messages.find((m) => m.msg_type === "execute_result")!.content.data["text/plain"]).toBe(text);
    rmSync(path.dirname(file), { recursive: true, force: true });
  });
});

describe("bad input: a clear error, the kernel and the node unharmed", () => {
  it("a table without args, another kind of table, code that does not compile, a bad --args, cut terms", async () => {
    await k.execute("%probe Shop.Pricing.unit_price/1 --as noargs");
    await ex(`Shop.Pricing.unit_price("fig")`);
    await k.execute("%disarm noargs");
    await k.execute("%events noargs --wait=5s");
    expect(await cellError(k, "%whatif noargs")).toMatch(/recorded without arguments, so its calls cannot be re-run; arm the probe again with --args/);
    await k.execute("%probe --messages Shop.Inventory --as msgs --for 1s");
    expect(await cellError(k, "%whatif msgs")).toMatch(/msgs is a messages table; a what-if replays a call probe's rows/);
    await record("prices3", "Shop.Pricing.price/2", `Shop.Pricing.price("fig", 2)`);
    expect(await cellError(k, "%%whatif prices3\ndefmodule Shop.Pricing do\n  def price(a, b) do a +\nend")).toMatch(/does not compile on the shadow node \(nothing was loaded anywhere\)/);
    expect(await cellError(k, "%whatif prices3 --as prices3")).toMatch(/--as prices3 is a probe's name already/);
    expect(await cellError(k, `%whatif prices3 --args "42"`)).toMatch(/--args must be a function of one argument .* it is 42/);
    const [bad] = await rowsOf(`%whatif prices3 --args "fn [a, _] -> [a] end" --as badargs`, "outcome,error");
    expect(bad.outcome).toBe("exception");
    expect(bad.error).toMatch(/UndefinedFunctionError|undefined/);
    await k.execute("%probe Shop.Pricing.price/2 --args --cut 64 --as cut");
    await ex(`Shop.Pricing.price(String.duplicate("x", 500), 2)`);
    await k.execute("%disarm cut");
    await k.execute("%events cut --wait=5s");
    const [cut] = await rowsOf("%whatif cut --as cutrows", "outcome,error");
    expect(cut).toMatchObject({ outcome: "not_replayed" });
    expect(cut.error).toMatch(/was cut on the node .* cannot be rebuilt; arm the probe again with a larger --cut/);
    // The kernel and the node are fine: the next replay works.
    const [fine] = await rowsOf("%whatif prices3 --as fine", "same");
    expect(fine.same).toBe(true);
  });

  it("a module compiled in memory on the node (no .beam) is named as such", async () => {
    await ex(`defmodule LuminWhatIfInMemory do
  def twice(x), do: x * 2
end`);
    await record("mem", "LuminWhatIfInMemory.twice/1", `LuminWhatIfInMemory.twice(21)`);
    expect(await cellError(k, "%whatif mem")).toMatch(/object code of LuminWhatIfInMemory cannot be fetched .* compiled in memory/);
  });
});

describe("%suggest_tests", () => {
  it("writes an ExUnit module that passes mix test in a copy of the app, and fails after a one-line change to the function", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-suggest-"));
    try {
      await record("sprices", "Shop.Pricing.price/2", `for q <- [1, 2, 5, 9, 10, 12, 50, 99], i <- ["apple", "pear"], do: Shop.Pricing.price(i, q)
try do
  Shop.Pricing.price("apple", 0)
rescue
  _ -> :ok
end`);
      const file = path.join(dir, "pricing_recorded_test.exs");
      const r = await k.execute(`%suggest_tests sprices --out ${file}`, { timeout: 240 });
      const said = stdout(r);
      expect(r.messages.find((m) => m.msg_type === "error")?.content.evalue).toBeUndefined();
      expect(said).toMatch(/Wrote .*pricing_recorded_test\.exs: 2 tests \(ExUnit module Shop\.PricingRecordedTest\) from 17 recorded calls; run on the shadow node against the recorded code: 2 of 2 pass\./);
      const code = readFileSync(file, "utf8");
      expect(code).toContain('test "Shop.Pricing.price/2 with a string, a positive integer returns a positive integer" do');
      expect(code).toContain('assert_raise FunctionClauseError, fn -> Shop.Pricing.price("apple", 0) end');
      expect(code.match(/^    assert Shop\.Pricing\.price\(/gm)).toHaveLength(3);
      // A copy of the app with the file under test/: mix test passes; after one changed line it fails.
      const app = path.join(dir, "shop");
      cpSync(SHOP_APP, app, { recursive: true, filter: (src) => !src.includes(`${path.sep}_build`) && !src.includes(`${path.sep}deps`) });
      mkdirSync(path.join(app, "test"), { recursive: true });
      writeFileSync(path.join(app, "test", "test_helper.exs"), "ExUnit.start()\n");
      cpSync(file, path.join(app, "test", "pricing_recorded_test.exs"));
      const mixTest = () => spawnSync("mix", ["test"], { cwd: app, encoding: "utf8", env: { ...process.env, MIX_ENV: "test" }, timeout: 300_000 });
      const pass = mixTest();
      expect(pass.stdout + pass.stderr).toMatch(/2 tests, 0 failures/);
      expect(pass.status).toBe(0);
      const pricing = path.join(app, "lib", "shop", "pricing.ex");
      writeFileSync(pricing, readFileSync(pricing, "utf8").replace("div(base * 9, 10)", "div(base * 8, 10)"));
      // Mix finds stale sources by mtime in whole seconds: the edit may share the first build's second.
      const later = new Date(Date.now() + 5000);
      utimesSync(pricing, later, later);
      const fail = mixTest();
      expect(fail.stdout + fail.stderr).toMatch(/2 tests, 1 failure/);
      expect(fail.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);

  it("leaves out calls whose terms cannot be literals, saying why, and refuses a table without args", async () => {
    await record("tuples", ":erlang.tuple_to_list/1", `:erlang.tuple_to_list({self(), 1})
:erlang.tuple_to_list({:a, 1})`);
    const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-suggest-"));
    try {
      const r = await k.execute(`%suggest_tests tuples --out ${path.join(dir, "t.erl")}`, { timeout: 240 });
      expect(r.messages.find((m) => m.msg_type === "error")?.content.evalue).toBeUndefined();
      const said = stdout(r);
      expect(said).toMatch(/1 test \(EUnit module erlang_recorded_tests\) from 1 recorded call; .* 1 of 1 pass/);
      expect(said).toMatch(/1 recorded call left out: a pid is in the call/);
      const code = readFileSync(path.join(dir, "t.erl"), "utf8");
      expect(code).toContain("?assertEqual([a,1], erlang:tuple_to_list({a,1}))");
      expect(code).toMatch(/%% 1 recorded call left out: a pid is in the call/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await k.execute("%probe Shop.Pricing.unit_price/1 --as noargs2");
    await ex(`Shop.Pricing.unit_price("fig")`);
    await k.execute("%disarm noargs2");
    await k.execute("%events noargs2 --wait=5s");
    expect(await cellError(k, "%suggest_tests noargs2")).toMatch(/recorded without arguments, so no call can be written as a test; arm the probe again with --args/);
  }, 300_000);
});

describe("an Erlang node (no Elixir): functions in Erlang, a gen_statem's state functions, EUnit", () => {
  const SOURCES: Record<string, string> = {
    "wi_calc.erl": `-module(wi_calc).
-export([double/1]).
double(X) when is_integer(X) -> 2 * X.
`,
    "wi_door.erl": `-module(wi_door).
-behaviour(gen_statem).
-export([start/0, push/0, code/1, init/1, callback_mode/0, locked/3, open/3]).
start() -> gen_statem:start({local, wi_door}, ?MODULE, 0, []).
push() -> gen_statem:call(wi_door, push).
code(C) -> gen_statem:call(wi_door, {code, C}).
init(N) -> {ok, locked, N}.
callback_mode() -> state_functions.
locked({call, From}, {code, 42}, N) -> {next_state, open, N + 1, [{reply, From, opened}]};
locked({call, From}, {code, _}, N) -> {keep_state, N, [{reply, From, wrong}]};
locked({call, From}, push, N) -> {keep_state, N, [{reply, From, locked}]}.
open({call, From}, push, N) -> {next_state, locked, N, [{reply, From, pushed}]};
open({call, From}, {code, _}, N) -> {keep_state, N, [{reply, From, already_open}]}.
`,
  };
  let target: ErlNode;
  let ek: KernelClient;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "lumin-whatif-erl-"));
    for (const [file, text] of Object.entries(SOURCES)) writeFileSync(path.join(dir, file), text);
    execFileSync("erlc", ["-o", dir, ...Object.keys(SOURCES).map((f) => path.join(dir, f))]);
    target = await ErlNode.start("wierl", { args: ["-pa", dir] });
    ek = await startKernel({ env: { WI_ERL_COOKIE: target.cookie } });
    expect(stdout(await ek.execute(`%connect ${target.node} --cookie-env WI_ERL_COOKIE`))).toMatch(/Attached to/);
  }, 120_000);

  let stopped = false;
  afterAll(async () => {
    if (!stopped) await ek?.shutdown();
    target?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const erows = async (code: string, columns: string): Promise<any[]> => {
    const v = `er${++cells}`;
    const select = columns.split(",").map((c) => JSON.stringify(c.trim())).join(", ");
    return cellJson(ek, `const ${v} = ${code}\nconsole.log(JSON.stringify(${v}.select(${select}).objects().map((r: any) => Object.fromEntries(Object.entries(r).map(([c, x]) => [c, x != null && typeof x === "object" ? String(x) : x])))))`, 120);
  };

  it("replays calls with an Erlang --args function, terms shown as Erlang; writes EUnit that passes on the shadow", async () => {
    await ek.execute("%probe wi_calc:double/1 --args --as doubles");
    await ek.execute("%%erlang\n[wi_calc:double(X) || X <- [1, 2, 3]], catch wi_calc:double(x).");
    await ek.execute("%disarm doubles");
    await ek.execute("%events doubles --wait=5s");
    const rows = await erows(`%whatif doubles --args "fun([X]) when is_integer(X) -> [X - 10]; (A) -> A end"`, "function,args,outcome,same,replayed,diff");
    expect(rows.map((r) => [r.function, r.args, r.outcome, r.same, r.replayed])).toEqual([
      ["wi_calc:double/1", "[-9]", "return", false, "-18"],
      ["wi_calc:double/1", "[-8]", "return", false, "-16"],
      ["wi_calc:double/1", "[-7]", "return", false, "-14"],
      ["wi_calc:double/1", "[x]", "exception", true, "{error,function_clause}"],
    ]);
    expect(rows[0].diff).toBe("result: 2 → -18");
    const file = path.join(dir, "wi_calc_recorded_tests.erl");
    const r = await ek.execute(`%suggest_tests doubles --out ${file}`, { timeout: 240 });
    expect(stdout(r)).toMatch(/2 tests \(EUnit module wi_calc_recorded_tests\) from 4 recorded calls; .* 2 of 2 pass/);
    const code = readFileSync(file, "utf8");
    expect(code).toContain("?assertEqual(6, wi_calc:double(3))");
    expect(code).toContain("?assertError(function_clause, wi_calc:double(x))");
  });

  it("re-runs a gen_statem's state functions with the recorded state name and data; --state changes the data", async () => {
    await ek.execute("%erlang wi_door:start().");
    await ek.execute("%probe --state wi_door --as door");
    // Spaced out: the state probe reads a gen_statem's data after each event with a request of its own, which
    // under load can already see the next event (the probe's documented limit), so events come one at a time.
    await ek.execute("%%erlang\n[begin R = F(), timer:sleep(200), R end || F <- [fun wi_door:push/0, fun() -> wi_door:code(1) end, fun() -> wi_door:code(42) end, fun wi_door:push/0]].");
    await ek.execute("%disarm door");
    await ek.execute("%events door --wait=5s");
    const same = await erows("%whatif door --as door_same", "function,args,same,replayed,replayed_state");
    expect(same.map((r) => [r.function, r.args, r.same, r.replayed])).toEqual([
      ["wi_door:locked/3", "push", true, "locked"],
      ["wi_door:locked/3", "{code,1}", true, "wrong"],
      ["wi_door:locked/3", "{code,42}", true, "opened"],
      ["wi_door:open/3", "push", true, "pushed"],
    ]);
    const more = await erows(`%whatif door --state "fun(N) -> N + 100 end" --as door_more`, "same,replayed,replayed_state,diff");
    expect(more.map((r) => r.replayed)).toEqual(["locked", "wrong", "opened", "pushed"]);
    expect(more.map((r) => r.same)).toEqual([false, false, false, false]);
    expect(more[2].diff).toBe("state: 1 → 101");
  });
  it("the shadow node is a child of the kernel's bridge with no distribution flags, and it stops with the kernel", async () => {
    await ek.execute("%probe wi_calc:double/1 --args --as d2");
    await ek.execute("%erlang wi_calc:double(5).");
    await ek.execute("%disarm d2");
    await ek.execute("%events d2 --wait=5s");
    expect(String((await ek.execute("%whatif d2")).messages.find((m) => m.msg_type === "execute_result")?.content.data["text/plain"])).toMatch(/1 same result/);
    const cmdline = (pid: number) => { try { return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0"); } catch { return []; } };
    const shadows = descendants(ek.pid).filter((p) => { const c = cmdline(p); return c.includes("-user") && c[c.indexOf("-user") + 1] === "peer"; });
    expect(shadows).toHaveLength(1);
    const args = cmdline(shadows[0]);
    for (const flag of ["-name", "-sname", "-setcookie", "-dist_listen"]) expect(args).not.toContain(flag);
    stopped = true;
    await ek.shutdown();
    await waitFor(() => cmdline(shadows[0]).join("") === "", 15_000, "the shadow node to stop with its kernel");
  });
});

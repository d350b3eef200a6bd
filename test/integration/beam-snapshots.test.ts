/**
 * The snapshot magics (issue 4) through a real Jupyter client, on the sample shop app: %top, %tree, %apps,
 * %ets, %state, %info — each against a state of the node the test set up, asserted exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KernelClient } from "../support/jupyter";
import { cellError, cellJson, uniqueName, elixirCell, startShopKernel } from "../support/beam";

let k: KernelClient;
const SHOP = uniqueName("snaps");

/** Run a %%elixir cell on the shop node; its result as the node's inspect text. */
const ex = (code: string) => elixirCell(k, code);

/** The rows of a snapshot magic's table. */
let cells = 0;
function rowsOf(magic: string): Promise<any[]> {
  const v = `snap${++cells}`;
  return cellJson(k, `const ${v} = ${magic}\nconsole.log(JSON.stringify(${v}.objects()))`);
}

const pidOf = (inspected: string) => inspected.replace(/^"?#PID(<[\d.]+>)"?$/, "$1");

beforeAll(async () => {
  k = await startShopKernel(SHOP);
}, 200_000);

afterAll(async () => {
  await k?.shutdown();
});

describe("%top", () => {
  it("-n 5 --by memory: the five largest processes, largest first, the agent's own marked as such", async () => {
    const rows = await rowsOf("%top -n 5 --by memory");
    expect(rows).toHaveLength(5);
    const mem = rows.map((r) => r.memory);
    expect(mem).toEqual([...mem].sort((a, b) => b - a));
    for (const r of rows) {
      expect(r.node).toMatch(new RegExp(`^${SHOP}@`));
      expect(r.pid).toMatch(/^<0\.\d+\.0>$/);
      expect(r.memory).toBeGreaterThan(0);
      expect(r.heap_size).toBeGreaterThan(0);
      // The agent's processes are in the list like any other, so their cost is visible, and marked.
      expect(r.agent).toBe(/^lumin_(?!eval)/.test(r.initial_call ?? ""));
    }
    // The node's own figure for the first one agrees (memory moves a little between two looks).
    const first = Number(await ex(`{:memory, m} = Process.info(:erlang.list_to_pid(~c"${rows[0].pid}"), :memory)\nm`));
    expect(Math.abs(first - rows[0].memory)).toBeLessThan(rows[0].memory / 2);
  });

  it("by reductions (a rate over two samples) and by mailbox, a planted process comes first", async () => {
    await ex(`busy = spawn(fn -> Stream.repeatedly(fn -> :erlang.phash2(:rand.uniform()) end) |> Stream.run() end)
Process.register(busy, :lumin_busy)
full = spawn(fn -> receive do :never -> :ok end end)
for i <- 1..1500, do: send(full, {:msg, i})
Process.register(full, :lumin_full)`);
    try {
      const byRed = await rowsOf("%top -n 3");
      expect(byRed).toHaveLength(3);
      expect(byRed[0]).toMatchObject({ name: "lumin_busy", message_queue_len: 0 });
      expect(byRed[0].reductions_per_s).toBeGreaterThan(100_000);
      expect(byRed[0].reductions_per_s).toBeGreaterThan(10 * byRed[1].reductions_per_s);
      const byQueue = await rowsOf("%top -n 1 --by mailbox");
      expect(byQueue).toEqual([expect.objectContaining({ name: "lumin_full", message_queue_len: 1500, current_function: expect.stringMatching(/^Elixir|receive|prim_eval|:/) })]);
    } finally {
      await ex(`Process.exit(Process.whereis(:lumin_busy), :kill)\nProcess.exit(Process.whereis(:lumin_full), :kill)`);
    }
  });
});

describe("%tree", () => {
  it("shop: Shop.Supervisor and its children in start order, a DynamicSupervisor's child at depth 2", async () => {
    const agent = pidOf(await ex(`{:ok, a} = DynamicSupervisor.start_child(Shop.Workers, {Agent, fn -> 0 end})\ninspect(a)`));
    const pids = (JSON.parse(await ex(`Enum.map([Shop.Supervisor, Shop.Inventory, Shop.Orders, Shop.Workers, Shop.Flaky], &inspect(Process.whereis(&1)))`)) as string[]).map(pidOf);
    const [sup, inv, ord, wrk, flk] = pids;
    const rows = await rowsOf("%tree shop");
    const node = rows[0].node;
    const row = (supervisor: string | null, supervisor_pid: string | null, child_id: string, pid: string, name: string | null, type: string, restart: string | null, strategy: string | null, depth: number) =>
      ({ node, application: "shop", supervisor, supervisor_pid, child_id, pid, name, type, restart, strategy, depth });
    expect(rows).toEqual([
      row(null, null, "(root)", sup, "Shop.Supervisor", "supervisor", null, "one_for_one", 0),
      row("Shop.Supervisor", sup, "Shop.Inventory", inv, "Shop.Inventory", "worker", "permanent", null, 1),
      row("Shop.Supervisor", sup, "Shop.Orders", ord, "Shop.Orders", "worker", "permanent", null, 1),
      row("Shop.Supervisor", sup, "Shop.Workers", wrk, "Shop.Workers", "supervisor", "permanent", "one_for_one", 1),
      row("Shop.Workers", wrk, "undefined", agent, null, "worker", "permanent", null, 2),
      row("Shop.Supervisor", sup, "Shop.Flaky", flk, "Shop.Flaky", "worker", "permanent", null, 1),
    ]);
    // Looking did not disturb anything: the DynamicSupervisor and its child are the same processes.
    expect(await ex(`{inspect(Process.whereis(Shop.Workers)), Process.alive?(:erlang.list_to_pid(~c"${agent}"))}`)).toBe(`{"#PID${wrk}", true}`);
    await ex(`DynamicSupervisor.terminate_child(Shop.Workers, :erlang.list_to_pid(~c"${agent}"))`);
  });

  it("without an application: every running application's tree, each with its root first", async () => {
    const rows = await rowsOf("%tree");
    const roots = rows.filter((r) => r.depth === 0);
    expect(roots.map((r) => r.application).sort()).toEqual(expect.arrayContaining(["elixir", "kernel", "logger", "shop"]));
    for (const r of roots) expect(r).toMatchObject({ child_id: "(root)", type: "supervisor", supervisor: null });
    expect(rows.find((r) => r.name === "Shop.Orders")).toMatchObject({ application: "shop", depth: 1 });
  });

  it("names what it cannot find", async () => {
    expect(await cellError(k, "%tree no_such_app_zz")).toMatch(/no application named no_such_app_zz/);
  });
});

describe("%apps and %ets", () => {
  it("%apps: loaded and running applications with versions", async () => {
    await ex(`:application.load(:sasl)`);
    const rows = await rowsOf("%apps");
    const byName = Object.fromEntries(rows.map((r) => [r.application, r]));
    expect(byName.shop).toMatchObject({ description: "shop", version: "0.1.0", running: true });
    expect(byName.elixir).toMatchObject({ running: true, version: await ex("System.version()").then((v) => v.replace(/"/g, "")) });
    expect(byName.kernel.running).toBe(true);
    expect(byName.sasl.running).toBe(false);
    expect(rows.map((r) => r.application)).toEqual([...rows.map((r) => r.application)].sort());
  });

  it("%ets -n 3: the largest tables first, with size, memory in bytes, owner and protection", async () => {
    await ex(`owner = spawn(fn ->
  t = :ets.new(:lumin_snap_table, [:named_table, :public, :set])
  :ets.insert(t, Enum.map(1..20_000, &{&1, &1 * 2, "some text"}))
  receive do :stop -> :ok end
end)
Process.register(owner, :lumin_ets_owner)
Process.sleep(200)`);
    try {
      const rows = await rowsOf("%ets -n 3");
      expect(rows).toHaveLength(3);
      const mem = rows.map((r) => r.memory_bytes);
      expect(mem).toEqual([...mem].sort((a, b) => b - a));
      const expected = Number(await ex(`:ets.info(:lumin_snap_table, :memory) * :erlang.system_info(:wordsize)`));
      const owner = pidOf(await ex(`inspect(Process.whereis(:lumin_ets_owner))`));
      expect(rows[0]).toEqual({ node: rows[0].node, table: "lumin_snap_table", type: "set", size: 20_000, memory_bytes: expected, owner, owner_name: "lumin_ets_owner", protection: "public" });
    } finally {
      await ex(`send(Process.whereis(:lumin_ets_owner), :stop)`);
    }
  });
});

describe("%state and %info", () => {
  it("%state Shop.Inventory: the current state as a term", async () => {
    await ex(`Shop.Inventory.restock("snap_a", 7)\nShop.Inventory.restock("snap_b", 2)\nShop.Inventory.reserve("snap_b", 1)`);
    const st = await cellJson(k, `const invState = %state Shop.Inventory\nconsole.log(JSON.stringify({ value: invState.value, text: String(invState) }))`);
    expect(st.value).toEqual({ snap_a: 7, snap_b: 1 });
    expect(st.text).toBe(`%{"snap_a" => 7, "snap_b" => 1}`);
  });

  it("%state of a process that keeps no :sys state is refused clearly", async () => {
    await ex(`Process.register(spawn(fn -> receive do :never -> :ok end end), :lumin_plain)`);
    expect(await cellError(k, "%state lumin_plain")).toMatch(/did not answer a :sys.get_state request within 5 s/);
    await ex(`Process.exit(Process.whereis(:lumin_plain), :kill)`);
  }, 30_000);

  it("%info Shop.Orders (and by pid): status, links, the current stacktrace, its initial call", async () => {
    const orders = pidOf(await ex(`inspect(Process.whereis(Shop.Orders))`));
    const sup = pidOf(await ex(`inspect(Process.whereis(Shop.Supervisor))`));
    for (const target of ["Shop.Orders", orders]) {
      const info = await cellJson(k, `const oi_${target.replace(/\W/g, "")} = %info ${target}\nconsole.log(JSON.stringify(oi_${target.replace(/\W/g, "")}.value))`);
      expect(info).toMatchObject({ registered_name: "Shop.Orders", status: "waiting", message_queue_len: 0, links: [sup], trap_exit: false, priority: "normal", current_function: ["gen_server", "loop", 7] });
      expect(info.current_stacktrace[0].slice(0, 3)).toEqual(["gen_server", "loop", 7]);
      expect(info.current_stacktrace.at(-1).slice(0, 3)).toEqual(["proc_lib", "init_p_do_apply", 3]);
      expect(info.dictionary).toContainEqual(["$initial_call", ["Shop.Orders", "init", 1]]);
      expect(info.memory).toBeGreaterThan(0);
    }
    expect(await cellError(k, "%info no_such_process_zz")).toMatch(/no process is registered as no_such_process_zz/);
  });
});

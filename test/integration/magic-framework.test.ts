/**
 * The magic framework through a real Jupyter client and a real node (the sample shop app): completion from
 * the declarations (probe names, modules and functions asked of the node), %probes newest first with every
 * row, %drop giving the kernel's memory back, %time of a magic with short flags, and %probe? under nbconvert.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kernelspecDir, ofType, stdout, texts, type KernelClient } from "../support/jupyter";
import { cellError, cellJson, elixirCell, startShopKernel, uniqueName } from "../support/beam";

let k: KernelClient;
const SHOP = uniqueName("magicfw");

async function complete(code: string): Promise<string[]> {
  const { reply } = await k.request("complete_request", { code, cursor_pos: code.length });
  expect(reply.content.cursor_end).toBe(code.length);
  return reply.content.matches;
}

beforeAll(async () => {
  k = await startShopKernel(SHOP);
}, 200_000);

afterAll(async () => {
  await k?.shutdown();
});

describe("completion", () => {
  it("completes probe names after %events, %disarm, %drop and %chart KIND, and in `const t = %events`", async () => {
    await k.execute("%probe Shop.Inventory.stock/1 --as stockwatch --for 30s");
    await k.execute("%probe Shop.Orders.place/2 --as orderwatch --for 30s");
    expect(await complete("%events ")).toEqual(expect.arrayContaining(["stockwatch", "orderwatch"]));
    expect(await complete("%events st")).toEqual(["stockwatch"]);
    expect(await complete("%disarm or")).toEqual(["orderwatch"]);
    expect(await complete("%drop stock")).toEqual(["stockwatch"]);
    expect(await complete("%chart latency ord")).toEqual(["orderwatch"]);
    expect(await complete("%chart lat")).toEqual(["latency"]);
    expect(await complete("const t = %events stock")).toEqual(["stockwatch"]);
    // Newest first: the probe armed last is offered first.
    expect((await complete("%events ")).slice(0, 2)).toEqual(["orderwatch", "stockwatch"]);
    await k.execute("%disarm --all");
  });

  it("completes the names of modules on the node's code path not loaded yet, without loading them", async () => {
    const loaded = () => elixirCell(k, "{:code.is_loaded(Shop.Pricing), :erlang.system_info(:atom_count)}");
    await loaded(); // the first evaluation on a node makes its own atoms: count from the second
    const before = await loaded();
    expect(before).toMatch(/^\{false, \d+\}$/);
    expect(await complete("%probe Shop.Pri")).toContain("Shop.Pricing");
    expect(await complete("%probe :gen_stat")).toContain(":gen_statem");
    expect(await loaded()).toBe(before);
  });

  it("completes module names from the node, then a module's functions", async () => {
    expect(await complete("%probe Shop.Inv")).toContain("Shop.Inventory");
    expect(await complete("%probe Shop.Inventory.re")).toEqual(expect.arrayContaining(["Shop.Inventory.reserve/2", "Shop.Inventory.restock/2"]));
    expect(await complete("%probe Shop.Inventory.")).toContain("Shop.Inventory.stock/1");
    expect(await complete("%probe :lists.rev")).toContain(":lists.reverse/1");
    expect(await complete("%probe lists:rev")).toContain("lists:reverse/2");
    expect(await complete("%probe --limit 5 Shop.Ord")).toContain("Shop.Orders");
    expect(await complete(`%top --node ${SHOP.slice(0, 5)}`)).toEqual([expect.stringMatching(new RegExp(`^${SHOP}@`))]);
  });
});

describe("%probes", () => {
  it("lists the newest probe first and shows every row, past the 20 of a table's first page", async () => {
    // 23 probes, each on a function of :queue the node itself hardly calls.
    const fns = ["new/0", "in/2", "out/1", "len/1", "is_empty/1", "to_list/1", "from_list/1", "reverse/1", "join/2", "split/2", "filter/2", "member/2",
      "head/1", "tail/1", "drop/1", "get/1", "peek/1", "last/1", "liat/1", "daeh/1", "cons/2", "snoc/2", "in_r/2"];
    const names = fns.map((_, i) => `lot${String(i).padStart(2, "0")}`);
    for (const [i, n] of names.entries()) {
      const r = await k.execute(`%probe :queue.${fns[i]} --as ${n} --for 30s`);
      expect(ofType(r, "error")).toEqual([]);
    }
    const r = await k.execute("%probes");
    const text = texts(r, "execute_result")[0];
    const listed = [...text.matchAll(/^(lot\d\d)\s/gm)].map((m) => m[1]);
    expect(listed).toEqual([...names].reverse());
    expect(text).not.toMatch(/\d+ of \d+ rows/);
    const armed = await cellJson<string[]>(k, "const armedNow = %probes --armed\nconsole.log(JSON.stringify(armedNow.array('name')))");
    expect(armed.slice(0, 23)).toEqual([...names].reverse());
    await k.execute("%disarm --all");
    await k.execute("%drop --ended");
    expect(texts(await k.execute("%probes"), "execute_result")[0]).not.toMatch(/lot\d\d/);
  });
});

describe("%drop", () => {
  it("forgets a probe's rows and gives the kernel's memory for them back", async () => {
    await k.execute("%probe :lists.seq/2 --as bulk --limit 300000 --rate 10000000/s --unsafe --for 60s");
    await elixirCell(k, "for i <- 1..300_000, do: :lists.seq(1, rem(i, 3))\n:ok");
    // Shown, not bound: nothing in the cell scope holds the table.
    const shown = texts(await k.execute("%events bulk --wait=30s", { timeout: 60 }), "execute_result")[0];
    expect(shown).toMatch(/of 300,000 rows/);
    // The kernel's memory held in array buffers (the probe's columns live there), after a full collection.
    await k.execute(`function arrayBuffersNow(): number {
  require("v8").setFlagsFromString("--expose-gc");
  const gcNow = require("vm").runInNewContext("gc");
  gcNow();
  gcNow();
  return process.memoryUsage().arrayBuffers;
}`);
    const measure = "console.log(JSON.stringify(arrayBuffersNow()))";
    const before = await cellJson<number>(k, measure);
    const r = await k.execute("%drop bulk");
    expect(stdout(r)).toMatch(/Dropped bulk: 300,000 rows freed/);
    const after = await cellJson<number>(k, measure);
    // 300,000 calls take some megabytes in compact columns; nearly all of it is back.
    expect(before - after).toBeGreaterThan(3_000_000);
    expect(after).toBeLessThan(before / 4);
    expect(await cellError(k, "%events bulk")).toMatch(/there is no probe named bulk/);
    expect(await complete("%events bul")).toEqual([]);
  });

  it("disarms an armed probe before dropping it, and says clearly what it cannot drop", async () => {
    await k.execute("%probe Shop.Inventory.stock/1 --as live --for 60s");
    expect(stdout(await k.execute("%drop live"))).toMatch(/Dropped live: 0 rows freed/);
    expect(await cellError(k, "%drop live")).toMatch(/there is no probe or capture named live/);
    expect(await cellError(k, "%drop")).toMatch(/name a probe .* or use --ended/);
    // The name is free again.
    const r = await k.execute("%probe Shop.Inventory.stock/1 --as live --for 1s");
    expect(ofType(r, "error")).toEqual([]);
    await k.execute("%disarm live");
  });
});

describe("%time of a magic", () => {
  it("%time %top -n 3 gives %top its short flag and prints the wall time", async () => {
    const r = await k.execute("%time %top -n 3");
    expect(ofType(r, "error")).toEqual([]);
    expect(stdout(r)).toMatch(/Wall time: [\d.]+ (µs|ms|s)/);
    const rows = await cellJson<number>(k, "const top3 = %time %top -n 3 --by memory\nconsole.log(JSON.stringify(top3.numRows()))");
    expect(rows).toBe(3);
  });
});

describe("%probe? under nbconvert", () => {
  it("prints the help into the executed notebook, where the page payload is dropped", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-help-"));
    const spec = kernelspecDir();
    try {
      const nb = {
        nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: "elixirlumin", display_name: "ElixirLumin", language: "typescript" } },
        cells: [{ cell_type: "code", id: "help", metadata: {}, execution_count: null, outputs: [], source: "%probe?" }],
      };
      writeFileSync(path.join(dir, "help.ipynb"), JSON.stringify(nb));
      await new Promise<void>((resolve, reject) =>
        execFile("jupyter", ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=elixirlumin", "--output", "out", path.join(dir, "help.ipynb")],
          { cwd: dir, env: { ...process.env, JUPYTER_PATH: path.join(spec, "share", "jupyter") }, timeout: 120_000 },
          (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve())),
      );
      const out = JSON.parse(readFileSync(path.join(dir, "out.ipynb"), "utf8"));
      const text = out.cells[0].outputs.map((o: any) => (Array.isArray(o.text) ? o.text.join("") : (o.text ?? ""))).join("");
      expect(text).toMatch(/^%probe \[MFA\]/);
      expect(text).toMatch(/--limit N/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(spec, { recursive: true, force: true });
    }
  });
});

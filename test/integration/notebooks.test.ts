/**
 * Every notebook the project ships, executed headless by nbconvert against the kernel (as CI and a reader
 * would run them), with no error output and the outputs a reader relies on. Each notebook starts its own
 * local BEAM node, which stops with its kernel.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/jupyter";
import { executeNotebook, joinText, replayOfLiveRun, type Cell, type Output } from "../support/nbconvert";


/**
 * Runs the notebook from a folder of its own outside the repository, as a reader would; it records itself
 * (its first code cell is `%record recordings/NAME`), and is then replayed from that recording with no node.
 */
async function execute(notebook: string): Promise<{ cells: Cell[]; replay: Awaited<ReturnType<typeof replayOfLiveRun>> }> {
  const run = await executeNotebook(notebook);
  try {
    return { cells: run.notebook.cells as Cell[], replay: await replayOfLiveRun(notebook, run) };
  } finally {
    run.cleanup();
  }
}

/** The outputs of the code cell whose source contains `marker`. */
function outputsOf(cells: Cell[], marker: string): Output[] {
  const cell = cells.find((c) => c.cell_type === "code" && joinText(c.source).includes(marker));
  if (!cell) throw new Error(`no cell contains ${marker}`);
  return cell.outputs ?? [];
}
const textOf = (outputs: Output[]) => outputs.map((o) => joinText(o.text) + joinText(o.data?.["text/plain"] as string | string[])).join("\n");
const errorsIn = (cells: Cell[]) => cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}\n--- in cell:\n${joinText(c.source)}`));

/** What each notebook must show, beyond running without errors. */
const CHECKS: Record<string, (cells: Cell[]) => void> = {
  "notebooks/welcome.ipynb": (cells) => {
    expect(textOf(outputsOf(cells, "greeting.toUpperCase()"))).toContain("HELLO FROM ELIXIRLUMIN");
    expect(textOf(outputsOf(cells, "%node start"))).toMatch(/Attached to welcome@\S+ \(started by this kernel\)/);
    expect(textOf(outputsOf(cells, "fibs.reduce"))).toContain("143");
    // fib(12) makes 465 calls: every one is a row.
    expect(textOf(outputsOf(cells, "const calls = %events fib"))).toMatch(/465 seen, 0 dropped/);
    const chart = outputsOf(cells, "latencyChart(calls)").find((o) => o.data?.["application/vnd.vegalite.v5+json"]);
    expect(chart?.data?.["image/png"]).toBeTruthy();
  },
  "notebooks/investigations/first-probe.ipynb": (cells) => {
    expect(textOf(outputsOf(cells, "const prices = %events prices"))).toMatch(/prices: calls Shop\.Pricing\.price\/2 .* 30 seen, 0 dropped/);
    expect(textOf(outputsOf(cells, "%probes"))).toMatch(/orders\s+\S+\s+calls\s+Shop\.Orders\.place\/2\s+ended\s+30/);
  },
  "notebooks/investigations/latency-spike.ipynb": (cells) => {
    // The planted slow path: the six bulk orders (qty > 100, one in fifty) are the strongest outliers.
    const outliers = textOf(outputsOf(cells, "outliers(orders)"));
    const quantities = [...outliers.matchAll(/\{:place, "apple", (\d+)\}/g)].map((m) => Number(m[1]));
    expect(quantities.slice(0, 6).every((q) => q > 100)).toBe(true);
    expect(quantities.slice(6).every((q) => q <= 100)).toBe(true);
    expect(textOf(outputsOf(cells, "%explain all"))).toMatch(/Most time went to Shop\.Orders\.handle_call\/3/);
    expect(textOf(outputsOf(cells, "%export latency-spike.html"))).toMatch(/Wrote .*latency-spike\.html: \d+ chart\(s\)/);
    // One span per call row: 300 orders, each pricing and reserving once.
    expect(textOf(outputsOf(cells, "%export otel"))).toMatch(/Wrote .*latency-spike\.otlp\.jsonl: 900 span\(s\) from 1 table\(s\), OTLP JSON/);
  },
  "notebooks/investigations/messages.ipynb": (cells) => {
    const chart = outputsOf(cells, "sequenceChart(msgs").find((o) => o.data?.["application/vnd.vegalite.v5+json"]);
    expect(chart?.data?.["image/png"]).toBeTruthy();
    expect(textOf(outputsOf(cells, "const msgs = %events orders_msgs"))).toMatch(/call/);
  },
  "notebooks/investigations/processes.ipynb": (cells) => {
    // Shop.Flaky crashed three times: three exits, each with the reason it crashed with.
    const exits = textOf(outputsOf(cells, 'd.event === "exit"'));
    expect(exits.match(/Shop\.Flaky\s+\{%RuntimeError\{message: "crashed on pur/g)?.length).toBe(3);
    expect(exits).toMatch(/^3 rows$/m);
    expect(outputsOf(cells, "treeChart(tree").some((o) => o.data?.["image/png"])).toBe(true);
  },
  "notebooks/investigations/genserver-state.ipynb": (cells) => {
    expect(textOf(outputsOf(cells, "const inv = %events inventory"))).toMatch(/restock/);
    expect(outputsOf(cells, "stateHistoryChart(inv)").some((o) => o.data?.["application/vnd.vegalite.v5+json"])).toBe(true);
  },
  "notebooks/investigations/cluster.ipynb": (cells) => {
    expect(textOf(outputsOf(cells, "%connect cluster_demo_a@localhost --cluster"))).toMatch(/4 newly attached\. 5 nodes attached in all/);
    expect(textOf(outputsOf(cells, "%top --nodes all"))).toMatch(/15 rows/);
    // The node planted slower (8 ms per order against 2) is the one the percentiles point at.
    expect(textOf(outputsOf(cells, "slowest node"))).toMatch(/slowest node: cluster_demo_c@localhost — median p50 \d+\.\d ms/);
    expect(outputsOf(cells, "%chart summary checkout").some((o) => o.data?.["image/png"])).toBe(true);
    expect(textOf(outputsOf(cells, "const lat = %events checkout"))).toMatch(/percentiles within 1% \(relative\)/);
  },
  "notebooks/investigations/what-if.ipynb": (cells) => {
    // Replayed unchanged: all 300 the same; with the patch: all 300 the same result, the six bulk orders fast.
    expect(textOf(outputsOf(cells, "%whatif totals --as same"))).toMatch(/what-if of totals on the shadow node .* 300 replays: 300 same result/);
    expect(textOf(outputsOf(cells, "%%whatif totals --as patched"))).toMatch(/300 replays: 300 same result/);
    expect(outputsOf(cells, "%chart whatif patched").some((o) => o.data?.["image/png"])).toBe(true);
    expect(textOf(outputsOf(cells, "%explain patched"))).toMatch(/The slowest recorded call, row \d+ \(\["apple", 12\d\]\), took [\d.]+ ms; replayed, [\d.]+ µs/);
    expect(textOf(outputsOf(cells, "patched.filter"))).toMatch(/^6 rows$/m);
    // Six bulk reserves would have been refused with 100 apples in stock.
    const low = textOf(outputsOf(cells, "low.filter"));
    expect(low.match(/:ok\s+\{:error, :out_of_stock\}\s+reply: :ok → \{:error, :out_of_stock\}/g)).toHaveLength(6);
    expect(low).toMatch(/^6 rows$/m);
    expect(textOf(outputsOf(cells, "%suggest_tests prices"))).toMatch(/Wrote .*shop_pricing_recorded_test\.exs: \d+ tests? \(ExUnit module Shop\.PricingRecordedTest\) .* (\d+) of \1 pass/);
    expect(textOf(outputsOf(cells, "readFileSync"))).toContain("assert Shop.Pricing.price(");
  },
  "notebooks/investigations/logs-and-metrics.ipynb": (cells) => {
    expect(textOf(outputsOf(cells, "const logs = %events warnings"))).toMatch(/warning/);
    expect(outputsOf(cells, "metricsChart(vitals").some((o) => o.data?.["image/png"])).toBe(true);
    expect(textOf(outputsOf(cells, "placed_refused"))).toMatch(/telemetry/);
  },
};

const notebooks = [
  "notebooks/welcome.ipynb",
  ...readdirSync(path.join(ROOT, "notebooks", "investigations"))
    .filter((f) => f.endsWith(".ipynb") && !f.includes(".executed."))
    .map((f) => `notebooks/investigations/${f}`),
];

describe.each(notebooks)("%s", (notebook) => {
  it("runs headless from top to bottom with nbconvert, with the outputs a reader expects", async () => {
    const { cells, replay } = await execute(notebook);
    expect(errorsIn(cells)).toEqual([]);
    // Replayed from its recording with no node: no BEAM process, and the text of every cell as it was live.
    expect(replay.beamSeen).toEqual([]);
    expect(replay.replayed).toEqual(replay.live);
    CHECKS[notebook]?.(cells);
    // Notebooks stay small: outputs are bounded.
    const size = JSON.stringify(cells).length;
    expect(size).toBeLessThan(3_000_000);
  }, 600_000);
});

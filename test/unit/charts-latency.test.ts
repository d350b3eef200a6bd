import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { latencyChart } from "../../kernel/charts/latencyChart";
import { latencyTable } from "../../kernel/analysis/latency";
import { countDataValues } from "../../kernel/charts/data";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const base = { node: "a@h", pid: "<0.1.0>", module: "Shop", arity: 1, start_us: 0, outcome: "return" };
const calls = (rows: Record<string, unknown>[]) => aq.from(rows.map((r) => ({ ...base, ...r }))) as unknown as ColumnTable;

type Bin = { fn: string; lo_us: number; hi_us: number; calls: number };
const dataOf = (spec: Record<string, unknown>) => (spec.data as { values: Bin[] }).values;

describe("latencyChart (histogram)", () => {
  const t = calls([
    ...[100, 101, 150, 1000].map((d) => ({ function: "a", duration_us: d })),
    ...[5, 5, 5].map((d) => ({ function: "b", duration_us: d })),
    { function: "b", duration_us: null },
  ]);

  it("bins log10(duration) per function: one bar per non-empty bin", async () => {
    const spec = latencyChart(t);
    expect(spec.$schema).toBe("https://vega.github.io/schema/vega-lite/v5.json");
    const bins = dataOf(spec).map((b) => [b.fn, b.lo_us, b.calls]);
    expect(bins.sort()).toEqual([
      ["Shop.a/1", 100, 2],
      ["Shop.a/1", 1000, 1],
      ["Shop.a/1", 125.893, 1],
      ["Shop.b/1", 3.98107, 3],
    ]);
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rect", "bins")).toBe(4);
    expect(JSON.stringify(spec)).toContain("call duration (µs, log scale)");
  });

  it("splits by further columns and lumps the less-called functions together", async () => {
    const many = calls(Array.from({ length: 15 }, (_, f) => Array.from({ length: f + 1 }, () => ({ function: `f${f}`, duration_us: 10, node: f % 2 ? "a@h" : "b@h" }))).flat());
    const spec = latencyChart(many, { maxFunctions: 12 });
    const fns = new Set(dataOf(spec).map((b) => b.fn));
    expect(fns.size).toBe(13);
    expect(fns.has("(other)")).toBe(true);
    expect(dataOf(spec).find((b) => b.fn === "(other)")!.calls).toBe(1 + 2 + 3);
    expect(spec.title.subtitle).toContain("3 less-called functions drawn together as (other)");
    expect(countMarks(await renderSvg(spec), "rect", "bins")).toBe(13);
    const byNode = latencyChart(t, { by: ["node"] });
    expect(dataOf(byNode).every((b) => b.fn.endsWith(" · a@h"))).toBe(true);
  });

  it("draws 1,000,000 calls from their bins alone", async () => {
    const n = 1_000_000;
    const fns = ["a", "b", "c", "d"];
    const durations = Float64Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 100_000));
    const big = aq.table({
      node: new Array(n).fill("a@h"),
      pid: new Array(n).fill("<0.1.0>"),
      module: new Array(n).fill("Shop"),
      function: Array.from({ length: n }, (_, i) => fns[i % 4]),
      arity: new Int32Array(n).fill(1),
      duration_us: durations,
    }) as unknown as ColumnTable;
    const expected = new Set<string>();
    for (let i = 0; i < n; i++) expected.add(`${i % 4} ${Math.floor(Math.log10(durations[i]) * 10)}`);
    const spec = latencyChart(big);
    expect(countDataValues(spec)).toBe(expected.size);
    expect(countDataValues(spec)).toBeLessThanOrEqual(5000);
    expect(dataOf(spec).reduce((s, b) => s + b.calls, 0)).toBe(n);
    expect(countMarks(await renderSvg(spec), "rect", "bins")).toBe(expected.size);
    // and the latency table of the same rows draws as percentiles
    const lat = latencyTable(big);
    const pspec = latencyChart(lat);
    const svg = await renderSvg(pspec);
    expect(countMarks(svg, "rule", "ranges")).toBe(4);
    expect(countMarks(svg, "symbol", "percentiles")).toBe(16);
  });
});

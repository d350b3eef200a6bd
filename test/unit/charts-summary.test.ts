import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { summaryChart } from "../../kernel/charts/summaryChart";
import { SummaryMerge } from "../../kernel/analysis/sketchMerge";
import { eventOf, sketchOf } from "../../bench/simulatedCluster";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_800_000_000_000_000;

/** A summary table as %events gives it: `nodes` nodes over `ticks` intervals, node n2 four times slower. */
function summary(nodes: number, ticks = 5, merge = true): ColumnTable {
  const m = new SummaryMerge(merge);
  for (let t = 1; t <= ticks; t++) {
    for (let n = 0; n < nodes; n++) {
      const slow = n === 2 ? 4 : 1;
      const values = Array.from({ length: 200 }, (_, i) => slow * (1000 + i * 10));
      m.add(eventOf(`n${n}@h`, T + t * 1e6, [sketchOf(values, 0.01, { module: "checkout", function: "place", arity: 1 })], 0.01, "lat"));
    }
  }
  return aq.from(m.rows()) as unknown as ColumnTable;
}

describe("summaryChart", () => {
  it("across nodes: each node's p99 as a thin line and the merged p50/p90/p99 as thick grey ones, on a log scale", async () => {
    const spec = summaryChart(summary(4)) as any;
    const values = spec.data.values as { node: string; quantile: string; t_s: number; ms: number }[];
    expect(new Set(values.filter((v) => v.node !== "all nodes (merged)").map((v) => v.quantile))).toEqual(new Set(["p99"]));
    expect(new Set(values.filter((v) => v.node === "all nodes (merged)").map((v) => v.quantile))).toEqual(new Set(["p50", "p90", "p99"]));
    expect(values.filter((v) => v.t_s === 0)).toHaveLength(4 + 3);
    // The slow node stands out: its p99 is about four times the others'.
    const p99 = (node: string) => values.find((v) => v.node === node && v.t_s === 0)!.ms;
    expect(p99("n2@h") / p99("n0@h")).toBeGreaterThan(3.5);
    expect(spec.encoding.y.scale.type).toBe("log");
    expect(spec.encoding.color.scale.range.at(-1)).toBe("#888888");
    expect(spec.title.text).toBe("checkout:place/1: latency percentiles over time");
    const svg = await renderSvg(spec);
    expect(svg).toContain("<svg");
  });

  it("draws at most maxNodes nodes, the slowest first, and says so", () => {
    const spec = summaryChart(summary(12), { maxNodes: 3 }) as any;
    const nodes = new Set((spec.data.values as { node: string }[]).map((v) => v.node));
    expect(nodes.has("n2@h")).toBe(true);
    expect(nodes.size).toBe(4); // three nodes and the merge
    expect(spec.title.subtitle[0]).toMatch(/the 3 slowest of 12 nodes/);
  });

  it("on one node: its p50, p90 and p99", () => {
    const spec = summaryChart(summary(1, 3, false)) as any;
    expect(new Set((spec.data.values as { line: string }[]).map((v) => v.line))).toEqual(new Set(["n0@h p50", "n0@h p90", "n0@h p99"]));
  });

  it("says what is wrong with an empty table or an unknown function", () => {
    expect(() => summaryChart(aq.from([]).derive({}) as any)).toThrow();
    expect(() => summaryChart(summary(2), { function: "nope/0" })).toThrow(/no function nope\/0 in the table \(it has checkout:place\/1\)/);
  });
});

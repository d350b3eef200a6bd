import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { timelineChart } from "../../kernel/charts/timelineChart";
import { countDataValues } from "../../kernel/charts/data";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;
const base = { node: "a@h", pid: "<0.1.0>", process: null, module: "M", arity: 0, depth: 0, outcome: "return" };
const calls = (rows: Record<string, unknown>[]) => aq.from(rows.map((r) => ({ ...base, ...r }))) as unknown as ColumnTable;
type Span = { lane: string; depth: number; mfa: string; start_ms: number; end_ms: number };
const detail = (spec: Record<string, unknown>) => (spec.vconcat as Record<string, unknown>[])[1];
const spansOf = (spec: Record<string, unknown>) => (detail(spec).data as { values: Span[] }).values;

describe("timelineChart", () => {
  const t = calls([
    { function: "a", start_us: T, duration_us: 100 },
    { function: "b", start_us: T + 10, duration_us: 30 },
    { function: "c", start_us: T + 15, duration_us: 5 },
    { pid: "<0.2.0>", process: "Shop.Server", function: "d", start_us: T + 5, duration_us: 45 },
  ]);

  it("draws one span per call on per-process lanes, nested calls offset by depth", async () => {
    const spec = timelineChart(t);
    expect(spansOf(spec).map((s) => [s.mfa, s.lane, s.depth, s.start_ms, s.end_ms])).toEqual([
      ["M.a/0", "<0.1.0>", 0, 0, 0.1],
      ["M.b/0", "<0.1.0>", 1, 0.01, 0.04],
      ["M.c/0", "<0.1.0>", 2, 0.015, 0.02],
      ["M.d/0", "Shop.Server <0.2.0>", 0, 0.005, 0.05],
    ]);
    const enc = detail(spec).encoding as Record<string, Record<string, unknown>>;
    expect(enc.yOffset.field).toBe("depth");
    expect(enc.x.title).toBe("time since first call (ms)");
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rect", "spans")).toBe(4);
    expect(countMarks(svg, "rect", "overview")).toBe(100);
  });

  it("has an overview whose interval brush filters and zooms the detail", () => {
    const spec = timelineChart(t);
    const [overview, spans] = spec.vconcat as Record<string, unknown>[];
    expect(overview.params).toEqual([{ name: "brush", select: { type: "interval", encodings: ["x"] } }]);
    expect(JSON.stringify(spans.transform)).toContain("brush");
    expect((spans.encoding as { x: { scale: unknown } }).x.scale).toEqual({ domain: { param: "brush", encoding: "x" } });
  });

  it("fits a notebook's output area, however long the names and deep the nesting", async () => {
    const long = "Shop.Orders.Fulfilment.Warehouse.Allocation.handle_reservation_request";
    const deep = calls(Array.from({ length: 13 }, (_, d) => ({ pid: "<0.1.0>", process: `${long}.Server`, module: `${long}${d}`, function: "run", depth: d, start_us: T + d, duration_us: 100 - d })));
    const svg = await renderSvg(timelineChart(deep));
    const [, width, height] = /<svg[^>]*?width="([\d.]+)"[^>]*?height="([\d.]+)"/.exec(svg)!.map(Number);
    expect(width).toBeLessThanOrEqual(860);
    // 13 depths on one lane: a band of a few pixels each, not a chart taller than a screen.
    expect(height).toBeLessThan(700);
    expect(countMarks(svg, "rect", "spans")).toBe(13);
  });

  it("keeps the longest spans beyond maxSpans and says so", async () => {
    const spec = timelineChart(t, { maxSpans: 2 });
    expect(spansOf(spec).map((s) => s.mfa)).toEqual(["M.a/0", "M.d/0"]);
    expect(spec.title.subtitle).toContain("showing the 2 longest of 4 calls");
    expect(countMarks(await renderSvg(spec), "rect", "spans")).toBe(2);
  });

  it("stays under 1 MB for 1,000,000 calls", async () => {
    const n = 1_000_000;
    const big = aq.table({
      node: new Array(n).fill("a@h"),
      pid: Array.from({ length: n }, (_, i) => `<0.${i % 40}.0>`),
      process: new Array(n).fill(null),
      module: new Array(n).fill("Shop"),
      function: Array.from({ length: n }, (_, i) => `f${i % 7}`),
      arity: new Int32Array(n).fill(1),
      depth: new Int32Array(n),
      start_us: Float64Array.from({ length: n }, (_, i) => T + i * 10),
      duration_us: Float64Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 10_007)),
    }) as unknown as ColumnTable;
    const spec = timelineChart(big);
    const json = JSON.stringify(spec);
    expect(json.length).toBeLessThan(1_000_000);
    expect(countDataValues(spec)).toBeLessThanOrEqual(5000);
    expect(spansOf(spec)).toHaveLength(2000);
    expect(spec.title.subtitle).toContain("showing the 2,000 longest of 1,000,000 calls");
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rect", "spans")).toBe(2000);
  });
});

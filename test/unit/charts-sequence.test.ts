import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { sequenceChart } from "../../kernel/charts/sequenceChart";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;
const m = (time: number, event: string, from: string, to: string, protocol: string, extra: Record<string, unknown> = {}) => ({
  node: "a@h", time_us: T + time, event, from_pid: from, from_name: null, to_pid: to, to_name: to === "<0.9.0>" ? "Shop.Server" : null,
  protocol, call_id: null, latency_us: null, message: `{:${protocol}}`, size_words: 2, ...extra,
});
type Arrow = { from: number; to: number; t_ms: number; t2_ms: number; label: string; dir: string };
const layer = (spec: Record<string, unknown>, name: string) => (spec.layer as Record<string, unknown>[]).find((l) => l.name === name)!;
const arrowsOf = (spec: Record<string, unknown>) => (layer(spec, "arrows").data as { values: Arrow[] }).values;

describe("sequenceChart", () => {
  const msgs = aq.from([
    m(0, "send", "<0.1.0>", "<0.9.0>", "call", { call_id: "r1" }),
    m(50, "receive", "<0.1.0>", "<0.9.0>", "call", { call_id: "r1" }), // the same call, received: one arrow
    m(400, "send", "<0.9.0>", "<0.1.0>", "reply", { call_id: "r1" }), // latency from the call's send: 400 µs
    m(500, "send", "<0.9.0>", "<0.20.0>", "cast"),
    m(700, "receive", "<0.30.0>", "<0.9.0>", "DOWN"),
    m(900, "send", "<0.20.0>", "<0.1.0>", "EXIT"),
    m(950, "send", "<0.20.0>", "<0.20.0>", "info"),
  ]) as unknown as ColumnTable;

  it("draws a lifeline per process and an arrow (rule + head + label) per message", async () => {
    const spec = sequenceChart(msgs);
    expect(arrowsOf(spec).map((a) => [a.from, a.to, a.t_ms, a.t2_ms, a.label, a.dir])).toEqual([
      [0, 1, 0, 0.05, "call", "right"],
      [1, 0, 0.4, 0.4, "reply 400 µs", "left"],
      [1, 2, 0.5, 0.5, "cast", "right"],
      [3, 1, 0.7, 0.7, "DOWN", "left"],
      [2, 0, 0.9, 0.9, "EXIT", "left"],
      [2, 2, 0.95, 0.95, "info", "left"],
    ]);
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rule", "lifelines")).toBe(4);
    expect(countMarks(svg, "rule", "arrows")).toBe(6);
    expect(countMarks(svg, "symbol", "heads")).toBe(6);
    expect(countMarks(svg, "text", "labels")).toBe(6);
    expect(svg).toContain("reply 400 µs");
    expect(svg).toContain("Shop.Server &lt;0.9.0&gt;");
  });

  it("uses the table's latency when it has one, and keeps the first maxMessages", async () => {
    const withLatency = aq.from([m(0, "send", "<0.1.0>", "<0.9.0>", "call"), m(1200, "send", "<0.9.0>", "<0.1.0>", "reply", { latency_us: 1200 })]) as unknown as ColumnTable;
    expect(arrowsOf(sequenceChart(withLatency)).map((a) => a.label)).toEqual(["call", "reply 1.2 ms"]);
    const spec = sequenceChart(msgs, { maxMessages: 3 });
    expect(arrowsOf(spec)).toHaveLength(3);
    expect(spec.title.subtitle).toContain("showing the first 3 of 6 messages");
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rule", "arrows")).toBe(3);
    expect(countMarks(svg, "rule", "lifelines")).toBe(3);
  });
});

describe("sequenceChart on a large table", () => {
  it("reads and pairs only the earliest rows, and says how many there were", async () => {
    const n = 100_000;
    const rows = Array.from({ length: n }, (_, i) => m(n - i, "send", `<0.${i % 5}.0>`, `<0.${(i + 1) % 5}.0>`, "cast"));
    const spec = sequenceChart(aq.from(rows) as unknown as ColumnTable, { maxMessages: 50 });
    expect(arrowsOf(spec)).toHaveLength(50);
    expect(arrowsOf(spec)[0].t_ms).toBe(0);
    expect(spec.title.subtitle?.[0]).toBe("showing the first 50 messages of 100,000 send/receive events, among 5 processes");
    expect(countMarks(await renderSvg(spec), "rule", "arrows")).toBe(50);
  });
});

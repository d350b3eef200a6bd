/** The analyses and charts on tables built the way probe tables are: dictionary, constant and term columns. */
import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { ConstColumn, DictColumn, TermColumn } from "../../kernel/tables/columns";
import { Atom, encode, Tuple } from "../../kernel/beam/etf";
import { callTree, explain, latencyTable, outliers } from "../../kernel/analysis";
import { latencyChart, sequenceChart, stateHistoryChart } from "../../kernel/charts";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;

function terms(values: unknown[]): TermColumn {
  const parts = values.map((v) => (v === null ? new Uint8Array(0) : encode(v)));
  const offsets = new Uint32Array(parts.length + 1);
  parts.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length));
  const data = new Uint8Array(offsets[parts.length]);
  parts.forEach((p, i) => data.set(p, offsets[i]));
  return new TermColumn(offsets, data, "elixir");
}
const dict = <T,>(values: T[], rows: number[]) => new DictColumn(values, Uint32Array.from(rows));

describe("probe-shaped tables", () => {
  // 21 calls of Shop.get/1 (one slow, one raising) on two pids, nested in Shop.handle/1 on <0.1.0>
  const n = 22;
  const fnIdx = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0));
  const calls = aq.table({
    node: new ConstColumn("a@h", n),
    pid: dict(["<0.1.0>", "<0.2.0>"], Array.from({ length: n }, (_, i) => (i < 12 ? 0 : 1))),
    process: new ConstColumn(null, n),
    module: new ConstColumn("Shop", n),
    function: dict(["get", "handle"], fnIdx),
    arity: new Int32Array(n).fill(1),
    depth: Int32Array.from({ length: n }, (_, i) => (i > 0 && i < 12 ? 1 : 0)),
    start_us: Float64Array.from({ length: n }, (_, i) => (i === 0 ? T : T + i * 1000)),
    duration_us: Float64Array.from({ length: n }, (_, i) => (i === 0 ? 12_000 : i === 5 ? 900 : 100 + (i % 3))),
    outcome: dict(["return", "exception"], Array.from({ length: n }, (_, i) => (i === 15 ? 1 : 0))),
    result: terms(Array.from({ length: n }, (_, i) => (i === 15 ? null : new Atom("ok")))),
    exception_class: dict([null, "error"], Array.from({ length: n }, (_, i) => (i === 15 ? 1 : 0))),
    exception_reason: terms(Array.from({ length: n }, (_, i) => (i === 15 ? new Atom("not_found") : null))),
    args: terms(Array.from({ length: n }, (_, i) => [i])),
  }) as unknown as ColumnTable;

  it("summarises, nests and finds outliers", () => {
    expect(latencyTable(calls).objects().map((r) => [r.mfa, r.count, r.max_us])).toEqual([
      ["Shop.handle/1", 1, 12_000],
      ["Shop.get/1", 21, 900],
    ]);
    const tree = callTree(calls);
    expect(tree.objects().filter((r) => r.parent_id === 0)).toHaveLength(11);
    const odd = outliers(calls);
    expect(odd.array("start_us")).toEqual([T + 5000]);
    expect(String(odd.get("result", 0))).toBe(":ok");
    expect(String(odd.get("args", 0))).toBe("[5]");
  });

  it("explains, with the exception's reason formatted", () => {
    const lines = explain(calls);
    expect(lines).toContain("Shop.get/1 raised error :not_found on <0.2.0> at +15 ms; before it on that process: Shop.get/1, Shop.get/1, Shop.get/1.");
  });

  it("charts latency, messages and state", async () => {
    expect(countMarks(await renderSvg(latencyChart(calls)), "rect", "bins")).toBe(3);
    const k = 3;
    const msgs = aq.table({
      node: new ConstColumn("a@h", k),
      time_us: Float64Array.from([T, T + 10, T + 20]),
      event: new ConstColumn("send", k),
      from_pid: dict(["<0.1.0>", "<0.9.0>"], [0, 1, 0]),
      from_name: new ConstColumn(null, k),
      to_pid: dict(["<0.9.0>", "<0.1.0>"], [0, 1, 0]),
      to_name: new ConstColumn(null, k),
      protocol: dict(["call", "reply", "cast"], [0, 1, 2]),
      call_id: dict(["#Ref<0.1>", null], [0, 0, 1]),
      latency_us: Float64Array.from([NaN, 10, NaN]),
      message: terms([new Tuple([new Atom("get"), 1]), new Atom("ok"), new Tuple([new Atom("stop")])]),
      size_words: new Int32Array(k).fill(3),
    }) as unknown as ColumnTable;
    const svg = await renderSvg(sequenceChart(msgs));
    expect(countMarks(svg, "rule", "arrows")).toBe(3);
    expect(svg).toContain("reply 10 µs");

    const state = aq.table({
      node: new ConstColumn("a@h", 2),
      pid: new ConstColumn("<0.9.0>", 2),
      name: new ConstColumn("Shop.Cart", 2),
      seq: Int32Array.from([0, 1]),
      time_us: Float64Array.from([T, T + 5]),
      duration_us: Float64Array.from([3, 4]),
      kind: dict(["call"], [0, 0]),
      message: terms([new Tuple([new Atom("add"), 1]), new Tuple([new Atom("add"), 2])]),
      state_before: terms([{ count: 0 }, { count: 1 }]),
      state_after: terms([{ count: 1 }, { count: 3 }]),
      state_name_before: terms([null, null]),
      state_name_after: terms([null, null]),
      reply: terms([new Atom("ok"), new Atom("ok")]),
    }) as unknown as ColumnTable;
    const s = await renderSvg(stateHistoryChart(state));
    expect(s).toContain("+ %{count: 3}");
    expect(s).toContain("- %{count: 1}");
  });
});

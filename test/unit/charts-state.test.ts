import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { stateHistoryChart, textDiff } from "../../kernel/charts/stateHistoryChart";
import { countDataValues } from "../../kernel/charts/data";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;
const stateRow = (pid: string, seq: number, before: string, after: string) => ({
  node: "a@h", pid, name: pid === "<0.55.0>" ? "Shop.Cart" : null, seq, time_us: T + seq * 1000, duration_us: 10 + seq, kind: seq % 2 ? "call" : "cast",
  message: `{:add, ${seq}}`, state_before: before, state_after: after, state_name_before: null, state_name_after: null, reply: null,
});
const counts = (pid: string, n: number) => Array.from({ length: n }, (_, i) => stateRow(pid, i, `%{count: ${i}, owner: "ann"}`, `%{count: ${i % 3 ? i + 1 : i}, owner: "ann"}`));

describe("textDiff", () => {
  it("keeps the changed middle with some context", () => {
    expect(textDiff("%{a: 1, b: 2}", "%{a: 1, b: 3}", 4)).toEqual({ before: "… b: 2}", after: "… b: 3}" });
    expect(textDiff("same", "same")).toBeNull();
    expect(textDiff("[1, 2, 3, 4, 5, 6]", "[1, 2, 9, 4, 5, 6]", 2)).toEqual({ before: "…, 3, …", after: "…, 9, …" });
    expect(textDiff("ab", "abc", 5)).toEqual({ before: "ab", after: "abc" });
  });
});

describe("stateHistoryChart", () => {
  const table = aq.from([...counts("<0.55.0>", 6), ...counts("<0.60.0>", 2)]) as unknown as ColumnTable;

  it("draws a point per seq of the busiest server and a slider-bound parameter over seq", async () => {
    const spec = stateHistoryChart(table);
    expect(spec.title.text).toBe("State history of Shop.Cart <0.55.0>");
    expect(spec.params).toEqual([{ name: "at_seq", value: 5, bind: { input: "range", min: 0, max: 5, step: 1, name: "seq " } }]);
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "symbol", "messages")).toBe(6);
    expect(countMarks(svg, "rule", "selected")).toBe(1);
  });

  it("shows the state at the selected seq as text, with a diff line against the state before", async () => {
    const svg = await renderSvg(stateHistoryChart(table, { seq: 2 }));
    // seq 2 changed count 2 → 3: header, "- …", "+ …", then the state
    expect(countMarks(svg, "text", "state")).toBe(4);
    expect(svg).toContain("- %{count: 2, owner: &quot;ann&quot;}");
    expect(svg).toContain("+ %{count: 3, owner: &quot;ann&quot;}");
    const unchanged = await renderSvg(stateHistoryChart(table, { seq: 3 }));
    expect(countMarks(unchanged, "text", "state")).toBe(3); // header, "(state unchanged)", the state
    expect(unchanged).toContain("(state unchanged)");
  });

  it("shows the node's diff (paths and values) where a big state was shipped as what changed", async () => {
    const rows = [0, 1, 2].map((seq) => ({
      ...stateRow("<0.70.0>", seq, "", ""),
      state_before: null,
      state_after: null,
      state_diff: seq === 2 ? "(unchanged)" : `queue.len: ${seq} → ${seq + 1}`,
    }));
    const svg = await renderSvg(stateHistoryChart(aq.from(rows) as unknown as ColumnTable, { seq: 1 }));
    expect(svg).toContain("~ queue.len: 1 → 2");
    expect(svg).toContain("only what changed was shipped");
    const unchanged = await renderSvg(stateHistoryChart(aq.from(rows) as unknown as ColumnTable, { seq: 2 }));
    expect(unchanged).toContain("(state unchanged)");
  });

  it("thins long histories evenly and says so", () => {
    const long = aq.from(counts("<0.55.0>", 2000)) as unknown as ColumnTable;
    const spec = stateHistoryChart(long, { maxStates: 100 });
    expect(spec.title.subtitle).toContain("showing 100 evenly spaced of 2,000 messages");
    expect(countDataValues(spec)).toBeLessThanOrEqual(5000);
    const other = stateHistoryChart(table, { pid: "<0.60.0>" });
    expect(other.title.text).toBe("State history of <0.60.0>");
  });
});

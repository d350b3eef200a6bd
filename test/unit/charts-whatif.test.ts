/** The what-if chart and %explain's sentences for a what-if table, from a table made as %whatif makes one. */
import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { whatifChart } from "../../kernel/charts/whatifChart";
import { explain } from "../../kernel/analysis/explain";
import { countDataValues, MAX_VALUES } from "../../kernel/charts/data";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const row = (i: number, o: Partial<Record<string, unknown>> = {}) => ({
  node: "a@h", row: i, seq: null, start_us: 1.7e15 + i, function: "Shop.Orders.total/2", args: `["apple", ${i}]`,
  outcome: "return", same: true, recorded: String(i * 45), replayed: String(i * 45), recorded_us: 3 + (i % 5), replayed_us: 0.5,
  state: null, recorded_state: null, replayed_state: null, diff: null, sent: "[]", sent_count: 0, would_call: null, error: null, ...o,
});
const table = (rows: object[]) => aq.from(rows) as unknown as ColumnTable;
const whatif = table([
  ...Array.from({ length: 20 }, (_, i) => row(i)),
  row(20, { recorded_us: 38_000, replayed_us: 0.4, args: '["apple", 121]' }),
  row(21, { same: false, diff: "result: 5265 → 5264", args: '["apple", 130]', recorded_us: 40_000 }),
  row(22, { outcome: "would_call", same: null, would_call: "Shop.Inventory", replayed_us: 20, sent_count: 1 }),
  row(23, { outcome: "timeout", same: null, replayed_us: 5_000_000, error: "still running after 5000 ms: stopped" }),
  row(24, { outcome: "not_replayed", same: null, replayed_us: null, error: "this call was recorded without its arguments" }),
]);

describe("whatifChart", () => {
  it("a point per replay that has both durations, coloured by outcome, with the diagonal", async () => {
    const spec = whatifChart(whatif) as any;
    expect(spec.title.text).toBe("Recorded vs replayed duration");
    const points = spec.layer[1].data.values;
    expect(points).toHaveLength(24); // the row not replayed has no replayed duration
    expect(points.filter((p: any) => p.status === "different")).toEqual([expect.objectContaining({ recorded_us: 40_000, diff: "result: 5265 → 5264" })]);
    expect(points.filter((p: any) => p.status === "would call out")).toHaveLength(1);
    expect(points.filter((p: any) => p.status === "timed out")).toHaveLength(1);
    expect(spec.title.subtitle[0]).toMatch(/^24 replays: median .* recorded, .* replayed; \d+ faster than recorded/);
    const svg = await renderSvg(spec);
    expect(svg).toContain("same result");
  });

  it("embeds a bounded number of values on a large table", () => {
    const big = table(Array.from({ length: 20_000 }, (_, i) => row(i)));
    const spec = whatifChart(big);
    expect(countDataValues(spec)).toBeLessThanOrEqual(MAX_VALUES);
    expect((spec as any).title.subtitle.join(" ")).toMatch(/showing .* of 20,000 replays/);
  });
});

describe("explain on a what-if table", () => {
  it("says how many gave the same result, what changed, the slowest recorded call, calls out, timeouts, rows not replayed", () => {
    const s = explain(whatif);
    expect(s[0]).toBe("25 replays of Shop.Orders.total/2: 21 gave the same result as recorded, 1 a different one.");
    expect(s).toContain('What changed at row 21 (["apple", 130]): result: 5265 → 5264.');
    expect(s.join("\n")).toMatch(/The slowest recorded call, row 21 \(\["apple", 130\]\), took 40 ms; replayed, 0\.5 µs\./);
    expect(s.join("\n")).toMatch(/1 replay would have called Shop\.Inventory — stopped there, not delivered/);
    expect(s.join("\n")).toMatch(/1 replay ran past the timeout and was stopped: row 23/);
    expect(s.join("\n")).toMatch(/1 row could not be replayed: this call was recorded without its arguments/);
  });
});

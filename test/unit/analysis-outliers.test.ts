import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { outliers } from "../../kernel/analysis/outliers";
import type { ColumnTable } from "../../kernel/analysis/aq";

const base = { node: "a@h", pid: "<0.1.0>", module: "M", function: "f", arity: 1, depth: 0, start_us: 0, outcome: "return" };
const calls = (rows: Record<string, unknown>[]) => aq.from(rows.map((r, i) => ({ ...base, start_us: i * 1000, ...r }))) as unknown as ColumnTable;

describe("outliers", () => {
  it("finds the planted slow call among steady ones, and nothing else", () => {
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 200; i++) rows.push({ duration_us: 100 + (i % 10), pid: `<0.${i}.0>` });
    rows.splice(137, 0, { duration_us: 5000, pid: "<0.999.0>" });
    // another function with larger but steady durations: no outlier there
    for (let i = 0; i < 50; i++) rows.push({ function: "g", duration_us: 10_000 + ((i * 37) % 200) });
    const found = outliers(calls(rows));
    expect(found.numRows()).toBe(1);
    const [hit] = found.objects();
    expect(hit).toMatchObject({ pid: "<0.999.0>", duration_us: 5000, mfa: "M.f/1", median_us: 105, start_us: 137_000 });
    expect(hit.score as number).toBeGreaterThan(3.5);
    expect(found.columnNames()).toEqual([...calls([{ duration_us: 1 }]).columnNames(), "mfa", "median_us", "score"]);
  });

  it("uses the mean absolute deviation when most durations are equal", () => {
    const rows = Array.from({ length: 20 }, () => ({ duration_us: 50 }));
    rows[7] = { duration_us: 500 };
    const found = outliers(calls(rows));
    expect(found.objects().map((r) => r.start_us)).toEqual([7000]);
    // score = (500 − 50) / (1.2533 · 450/20)
    expect(found.get("score", 0)).toBeCloseTo(450 / (1.2533 * 22.5), 6);
  });

  it("finds nothing among equal or steady durations, and honours the threshold", () => {
    expect(outliers(calls(Array.from({ length: 10 }, () => ({ duration_us: 7 })))).numRows()).toBe(0);
    const steady = calls(Array.from({ length: 30 }, (_, i) => ({ duration_us: 100 + i })));
    expect(outliers(steady).numRows()).toBe(0);
    expect(outliers(steady, { threshold: 1 }).numRows()).toBeGreaterThan(0);
  });
});

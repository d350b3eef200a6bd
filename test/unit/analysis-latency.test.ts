import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { latencyTable } from "../../kernel/analysis/latency";
import { percentileNearestRank, percentilesInPlace } from "../../kernel/analysis/stats";
import type { ColumnTable } from "../../kernel/analysis/aq";

const base = { node: "a@h", pid: "<0.1.0>", module: "Shop", function: "f", arity: 1, depth: 0, start_us: 0, outcome: "return" };
const calls = (rows: Record<string, unknown>[]) => aq.from(rows.map((r) => ({ ...base, ...r }))) as unknown as ColumnTable;
const shuffle = <T>(xs: T[]) => xs.map((x, i) => [x, (i * 7919) % xs.length] as const).sort((a, b) => a[1] - b[1]).map(([x]) => x);

describe("percentileNearestRank", () => {
  it("takes sorted[ceil(p/100·n) − 1]", () => {
    const s = Float64Array.from({ length: 10 }, (_, i) => i + 1);
    expect([0, 10, 50, 51, 90, 99, 100].map((p) => percentileNearestRank(s, p))).toEqual([1, 1, 5, 6, 9, 10, 10]);
    expect(percentileNearestRank(new Float64Array(0), 50)).toBeNaN();
    expect(percentileNearestRank([7], 99)).toBe(7);
  });
});

describe("percentilesInPlace", () => {
  it("agrees with sorting, duplicates and all", () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (const n of [1, 2, 3, 15, 16, 17, 100, 1001, 5000]) {
      for (const distinct of [2, 10, 1e9]) {
        const xs = Float64Array.from({ length: n }, () => Math.floor(rand() * distinct));
        const sorted = Float64Array.from(xs).sort();
        const ps = [0, 1, 50, 90, 99, 100];
        expect(percentilesInPlace(Float64Array.from(xs), ps)).toEqual(ps.map((p) => percentileNearestRank(sorted, p)));
      }
    }
  });
});

describe("latencyTable", () => {
  it("gives exact nearest-rank percentiles per MFA, ordered by total time", () => {
    const rows = [
      ...Array.from({ length: 10 }, (_, i) => ({ function: "ten", duration_us: i + 1 })),
      ...shuffle(Array.from({ length: 100 }, (_, i) => ({ module: "Repo", function: "query", arity: 2, duration_us: i + 1 }))),
      { function: "ten", arity: 2, duration_us: 1e6 },
    ];
    const t = latencyTable(calls(rows));
    expect(t.columnNames()).toEqual(["mfa", "count", "mean_us", "p50_us", "p90_us", "p99_us", "max_us"]);
    expect(t.objects()).toEqual([
      { mfa: "Shop.ten/2", count: 1, mean_us: 1e6, p50_us: 1e6, p90_us: 1e6, p99_us: 1e6, max_us: 1e6 },
      { mfa: "Repo.query/2", count: 100, mean_us: 50.5, p50_us: 50, p90_us: 90, p99_us: 99, max_us: 100 },
      { mfa: "Shop.ten/1", count: 10, mean_us: 5.5, p50_us: 5, p90_us: 9, p99_us: 10, max_us: 10 },
    ]);
  });

  it("splits by further columns and leaves out null durations", () => {
    const t = latencyTable(
      calls([
        { node: "a@h", duration_us: 10 },
        { node: "a@h", duration_us: 30 },
        { node: "b@h", duration_us: 5 },
        { node: "b@h", duration_us: null },
      ]),
      { by: ["node"] },
    );
    expect(t.columnNames().slice(0, 3)).toEqual(["mfa", "node", "count"]);
    expect(t.objects().map((r) => [r.node, r.count, r.p50_us, r.max_us])).toEqual([
      ["a@h", 2, 10, 30],
      ["b@h", 1, 5, 5],
    ]);
  });

  it("honours the table's filter", () => {
    const t = calls([{ duration_us: 1 }, { duration_us: 2 }, { duration_us: 3 }]).filter((d: { duration_us: number }) => d.duration_us > 1);
    expect(latencyTable(t).objects()[0]).toMatchObject({ count: 2, p50_us: 2, max_us: 3 });
  });

  it("summarises 1,000,000 calls exactly", () => {
    const n = 1_000_000;
    const fns = ["a", "b", "c", "d"];
    const t = aq.table({
      node: new Array(n).fill("a@h"),
      pid: Array.from({ length: n }, (_, i) => `<0.${i % 50}.0>`),
      module: new Array(n).fill("Shop"),
      function: Array.from({ length: n }, (_, i) => fns[Math.floor(i / 250_000)]),
      arity: new Int32Array(n).fill(1),
      duration_us: Float64Array.from({ length: n }, (_, i) => 250_000 - (i % 250_000)),
    }) as unknown as ColumnTable;
    const out = latencyTable(t);
    expect(out.numRows()).toBe(4);
    for (const r of out.objects()) {
      expect(r).toMatchObject({ count: 250_000, mean_us: 125_000.5, p50_us: 125_000, p90_us: 225_000, p99_us: 247_500, max_us: 250_000 });
    }
  });
});

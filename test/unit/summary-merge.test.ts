/**
 * The kernel's merge of `--summary` sketches (kernel/analysis/sketchMerge.ts), fed the streams of a simulated
 * cluster of 150 nodes (no node needed): every node's and every merged percentile within the stated relative
 * error of the exact value of that rank, counts and errors exact, one node made slower found.
 */
import { describe, expect, it } from "vitest";
import { shipSketch, SummaryMerge, sketchQuantiles, type ShippedSketch, type SketchesEvent } from "../../kernel/analysis/sketchMerge";

/** What a node ships for one function: the sketch of `values` as elixir_agent/src/lumin_sketch.erl makes it. */
const shipped = (values: number[], alpha: number, fn = "place", errors = 0) => shipSketch(values, alpha, { module: "checkout", function: fn, arity: 1 }, errors);

/** A seeded generator (mulberry32), so a failure repeats. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const exact = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];
const within = (got: number | null, want: number, alpha: number) => got !== null && Math.abs(got - want) <= alpha * want * (1 + 1e-9);

describe("SummaryMerge", () => {
  it("one sketch: its quantiles are within alpha of the exact values of their rank", () => {
    const r = rng(1);
    for (const alpha of [0.01, 0.02]) {
      const values = Array.from({ length: 5000 }, () => Math.exp(5 + 1.5 * (r() + r() + r() - 1.5)));
      const [p50, p90, p99] = sketchQuantiles(shipped(values, alpha), alpha);
      expect(within(p50, exact(values, 0.5), alpha)).toBe(true);
      expect(within(p90, exact(values, 0.9), alpha)).toBe(true);
      expect(within(p99, exact(values, 0.99), alpha)).toBe(true);
    }
  });

  it("buckets that arrive unaligned in a shared buffer (as decoded from a frame) read the same", () => {
    const values = Array.from({ length: 500 }, (_, i) => 100 + i * 3);
    const s = shipped(values, 0.01);
    const pool = Buffer.alloc(s.bins.length + 7 + 64, 0xff);
    pool.set(s.bins, 7);
    const unaligned = { ...s, bins: pool.subarray(7, 7 + s.bins.length) };
    expect(sketchQuantiles(unaligned, 0.01)).toEqual(sketchQuantiles(s, 0.01));
    const m = new SummaryMerge(true);
    m.add({ name: "x", node: "a@h", at_us: 1, every_ms: 1000, alpha: 0.01, sketches: [unaligned] });
    expect(m.rows().map((r) => r.p50_us)).toEqual([sketchQuantiles(s, 0.01)[0], sketchQuantiles(s, 0.01)[0]]);
  });

  it("150 simulated nodes × 5 functions × 3 intervals: per-node and merged rows within 1%, counts exact, the slow node found", () => {
    const alpha = 0.01;
    const r = rng(42);
    const merge = new SummaryMerge(true);
    const all = new Map<string, number[]>();
    const nodes = Array.from({ length: 150 }, (_, i) => `n${i}@host`);
    let perNodeChecked = 0;
    const t0 = 1_800_000_000_000_000;
    for (let tick = 1; tick <= 3; tick++) {
      for (const [k, node] of nodes.entries()) {
        const sketches: ShippedSketch[] = [];
        for (let f = 0; f < 5; f++) {
          // Node 17 is five times slower on every function.
          const slow = k === 17 ? 5 : 1;
          const values = Array.from({ length: 50 + Math.floor(r() * 150) }, () => slow * (1000 + f * 500) * (0.5 + r() + (r() < 0.02 ? 20 * r() : 0)));
          const key = `${tick}/fn${f}`;
          all.set(key, [...(all.get(key) ?? []), ...values]);
          const s = shipped(values, alpha, `fn${f}`, f === 0 ? 1 : 0);
          sketches.push(s);
          const [p50, p90, p99] = sketchQuantiles(s, alpha);
          if (k % 37 === 0) {
            expect(within(p50, exact(values, 0.5), alpha) && within(p90, exact(values, 0.9), alpha) && within(p99, exact(values, 0.99), alpha)).toBe(true);
            perNodeChecked++;
          }
        }
        const e: SketchesEvent = { name: "lat", node, at_us: t0 + tick * 1e6, every_ms: 1000, alpha, sketches };
        merge.add(e);
      }
    }
    expect(perNodeChecked).toBeGreaterThan(20);
    const rows = merge.rows();
    expect(rows).toHaveLength(3 * 5 * 151);
    const merged = rows.filter((x) => x.node === "all");
    expect(merged).toHaveLength(15);
    for (const row of merged) {
      const values = all.get(`${(row.time_us - t0) / 1e6}/${row.function.replace(/^checkout:(\w+)\/1$/, "$1")}`)!;
      expect(row.count).toBe(values.length);
      expect(row.errors).toBe(row.function === "checkout:fn0/1" ? 150 : 0);
      expect(within(row.p50_us, exact(values, 0.5), alpha)).toBe(true);
      expect(within(row.p90_us, exact(values, 0.9), alpha)).toBe(true);
      expect(within(row.p99_us, exact(values, 0.99), alpha)).toBe(true);
      expect(row.max_us).toBe(Math.max(...values));
    }
    // The slow node: its p50 is the highest of every node's, on every function and interval.
    for (const row of merged) {
      const perNode = rows.filter((x) => x.time_us === row.time_us && x.function === row.function && x.node !== "all");
      expect(perNode.sort((a, b) => b.p50_us! - a.p50_us!)[0].node).toBe("n17@host");
    }
  });
});

/**
 * The kernel's merge of `--summary` sketches (kernel/analysis/sketchMerge.ts), fed the streams of a simulated
 * cluster of 150 nodes (bench/simulatedCluster.ts, which the benchmark feeds it from too; no node needed): every
 * node's and every merged percentile within the stated relative error of the exact value of that rank, counts
 * and errors exact, one node made slower found.
 */
import { describe, expect, it } from "vitest";
import { packedQuantiles, sketchQuantiles, SummaryMerge, type SketchesEvent } from "../../kernel/analysis/sketchMerge";
import { packSketches } from "../../kernel/analysis/packedSketches";
import { rng } from "../../bench/seededRandom";
import { eventOf, nodeName, simulateInterval, sketchOf } from "../../bench/simulatedCluster";

/** What a node ships for one function: the sketch of `values` as elixir_agent/src/lumin_sketch.erl makes it. */
const shipped = (values: number[], alpha: number, fn = "place", errors = 0) => sketchOf(values, alpha, { module: "checkout", function: fn, arity: 1 }, errors);
const event = (node: string, at: number, values: number[], alpha = 0.01) => eventOf(node, at, [shipped(values, alpha)], alpha, "x");

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

  it("a busy function's sketch fed by a share of its calls: count is the exact calls, sampled the share, per node and merged", () => {
    const fn = { module: "checkout", function: "price", arity: 1 };
    const m = new SummaryMerge(true);
    const at_us = 2_000_000;
    const node = (name: string, values: number[], errors: number, calls: number) => m.add(eventOf(name, at_us, [{ ...sketchOf(values, 0.01, fn, errors), calls }], 0.01, "x"));
    // a@h: 1,000 of 40,000 calls fed the sketch, 3 of them raised; b@h: every one of its 500 (a quiet node);
    // c@h: a function called in the interval but none of whose calls fed it (its window fell in the next one).
    node("a@h", Array.from({ length: 1000 }, (_, i) => 100 + i), 3, 40_000);
    node("b@h", Array.from({ length: 500 }, () => 50), 0, 500);
    node("c@h", [], 0, 7);
    const rows = Object.fromEntries(m.rows().map((r) => [r.node, r]));
    expect(rows["a@h"]).toMatchObject({ count: 40_000, sampled: 0.025, errors: 3 });
    expect(rows["b@h"]).toMatchObject({ count: 500, sampled: 1, errors: 0 });
    expect(rows["c@h"]).toMatchObject({ count: 7, sampled: 0, errors: 0, p50_us: null, max_us: null, mean_us: null });
    expect(rows.all).toMatchObject({ count: 40_507, sampled: 1500 / 40_507, errors: 3 });
    expect(rows.all.max_us).toBe(1099);
  });

  it("sketches that arrive unaligned in a shared buffer (as decoded from a frame) read the same", () => {
    const values = Array.from({ length: 500 }, (_, i) => 100 + i * 3);
    const packed = packSketches([shipped(values, 0.01)]);
    const pool = Buffer.alloc(packed.length + 7 + 64, 0xff);
    pool.set(packed, 7);
    const unaligned = pool.subarray(7, 7 + packed.length);
    const want = sketchQuantiles(shipped(values, 0.01), 0.01);
    expect(packedQuantiles(unaligned, 0.01)).toEqual([want]);
    const m = new SummaryMerge(true);
    m.add({ name: "x", node: "a@h", at_us: 1, every_ms: 1000, alpha: 0.01, sketches: unaligned });
    expect(m.rows().map((r) => r.p50_us)).toEqual([want[0], want[0]]);
  });

  it("150 simulated nodes × 5 functions × 3 intervals: per-node and merged rows within 1%, counts exact, the slow node found", () => {
    const alpha = 0.01;
    const r = rng(42);
    const merge = new SummaryMerge(true);
    const t0 = 1_800_000_000_000_000;
    const all = new Map<string, number[]>();
    let perNodeChecked = 0;
    for (let tick = 1; tick <= 3; tick++) {
      const byNode = new Map<number, number[][]>();
      const { events, values } = simulateInterval({
        nodes: 150, functions: 5, atUs: t0 + tick * 1e6, alpha, module: "checkout",
        // Node 17 is five times slower on every function.
        durations: (k, f) => {
          const slow = k === 17 ? 5 : 1;
          const v = Array.from({ length: 50 + Math.floor(r() * 150) }, () => slow * (1000 + f * 500) * (0.5 + r() + (r() < 0.02 ? 20 * r() : 0)));
          (byNode.get(k) ?? byNode.set(k, []).get(k)!)[f] = v;
          return v;
        },
        errors: (_, f) => (f === 0 ? 1 : 0),
      });
      values.forEach((v, f) => all.set(`${tick}/f${f}`, v));
      for (const [k, e] of events.entries()) {
        if (k % 37 === 0) {
          packedQuantiles(e.sketches, alpha).forEach(([p50, p90, p99], f) => {
            const v = byNode.get(k)![f];
            expect(within(p50, exact(v, 0.5), alpha) && within(p90, exact(v, 0.9), alpha) && within(p99, exact(v, 0.99), alpha)).toBe(true);
            perNodeChecked++;
          });
        }
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
      expect(row.errors).toBe(row.function === "checkout:f0/1" ? 150 : 0);
      expect(within(row.p50_us, exact(values, 0.5), alpha)).toBe(true);
      expect(within(row.p90_us, exact(values, 0.9), alpha)).toBe(true);
      expect(within(row.p99_us, exact(values, 0.99), alpha)).toBe(true);
      expect(row.max_us).toBe(Math.max(...values));
    }
    // The slow node: its p50 is the highest of every node's, on every function and interval.
    for (const row of merged) {
      const perNode = rows.filter((x) => x.time_us === row.time_us && x.function === row.function && x.node !== "all");
      expect(perNode.sort((a, b) => b.p50_us! - a.p50_us!)[0].node).toBe(nodeName(17));
    }
  });

  it("every quantile, of a node's sketch and of a merge, is the bucket holding its rank counted from the bottom (the zero bucket reads 0)", () => {
    const r = rng(9);
    const alpha = 0.01;
    const gamma = (1 + alpha) / (1 - alpha);
    // The bucket of rank floor(q · (n − 1)), counting every value from the lowest (the zero bucket reads 0).
    const fromBottom = (values: number[], q: number) => {
      const v = exact(values, q);
      return v <= 0.001 ? 0 : (2 * Math.pow(gamma, Math.ceil(Math.log(v) / Math.log(gamma)))) / (gamma + 1);
    };
    for (const n of [1, 2, 3, 7, 10, 11, 99, 100, 101, 1000]) {
      for (const zeros of [0, 1, Math.floor(n / 2), n]) {
        const values = Array.from({ length: n }, (_, i) => (i < zeros ? 0 : 1 + 1000 * r()));
        const got = sketchQuantiles(shipped(values, alpha), alpha);
        const want = [0.5, 0.9, 0.99].map((q) => fromBottom(values, q));
        got.forEach((g, i) => expect(g, `n ${n}, zeros ${zeros}, q ${i}`).toBeCloseTo(want[i], 9));
        // The same through an interval's merge (its buckets in a dense array).
        const m = new SummaryMerge(true);
        m.add(event("a@h", 1, values.slice(0, n >> 1), alpha));
        m.add(event("b@h", 1, values.slice(n >> 1), alpha));
        const all = m.rows().find((x) => x.node === "all")!;
        [all.p50_us, all.p90_us, all.p99_us].forEach((g, i) => expect(g, `merged: n ${n}, zeros ${zeros}, q ${i}`).toBeCloseTo(want[i], 9));
      }
    }
    const none = new SummaryMerge(true);
    none.add(event("a@h", 1, [], alpha));
    expect(none.rows().map((x) => [x.p50_us, x.p90_us, x.p99_us])).toEqual([[null, null, null], [null, null, null]]);
  });

  it("an interval's merge is the same whatever order the nodes' events come in, with a node that skips intervals and one that joins late", () => {
    const alpha = 0.01;
    const r = rng(5);
    const values = new Map<string, number[]>();
    const events: SketchesEvent[] = [];
    for (let tick = 1; tick <= 6; tick++) {
      for (let k = 0; k < 12; k++) {
        if (k === 3 && tick % 2 === 0) continue; // skips every other interval
        if (k === 11 && tick < 4) continue; // joins at the fourth
        const v = Array.from({ length: 20 + Math.floor(r() * 50) }, () => 100 * (1 + k) * (0.5 + r()));
        values.set(`${tick}`, [...(values.get(`${tick}`) ?? []), ...v]);
        events.push(event(`n${k}@h`, tick * 1e6, v, alpha));
      }
    }
    // Nodes' events interleave: each node's own stay in order, but after the first interval (which makes every
    // node known: an interval closes once every node known has passed it) one node runs two intervals ahead
    // and another one.
    const pace: Record<string, number> = { "n5@h": 0.55, "n7@h": 0.8 };
    const ahead = (e: SketchesEvent) => 1 + (e.at_us / 1e6 - 1) * (pace[e.node] ?? 1);
    const jitter = new Map(events.map((e) => [e, r()]));
    const shuffled = [...events].sort((x, y) => ahead(x) - ahead(y) || jitter.get(x)! - jitter.get(y)!);
    const inOrder = new SummaryMerge(true);
    for (const e of events) inOrder.add(e);
    const mixed = new SummaryMerge(true);
    for (const e of shuffled) mixed.add(e);
    const merged = (m: SummaryMerge) => m.rows().filter((x) => x.node === "all");
    expect(merged(mixed)).toEqual(merged(inOrder));
    expect(merged(mixed)).toHaveLength(6);
    for (const row of merged(mixed)) {
      const v = values.get(`${row.time_us / 1e6}`)!;
      expect(row.count).toBe(v.length);
      expect(within(row.p99_us, exact(v, 0.99), alpha)).toBe(true);
    }
  });

  it("a node's function names are read again only when they change: a function that appears later gets its own rows", () => {
    const m = new SummaryMerge(false);
    const place = shipped([100, 200], 0.01, "place");
    const cancel = shipped([50], 0.01, "cancel", 1);
    m.add(eventOf("a@h", 1e6, [place], 0.01));
    m.add(eventOf("a@h", 2e6, [place], 0.01));
    m.add(eventOf("a@h", 3e6, [cancel, place], 0.01));
    m.add(eventOf("a@h", 4e6, [place, cancel], 0.01));
    expect(m.rows().map((x) => [x.time_us / 1e6, x.function, x.count, x.errors])).toEqual([
      [1, "checkout:place/1", 2, 0], [2, "checkout:place/1", 2, 0], [3, "checkout:cancel/1", 1, 1], [3, "checkout:place/1", 2, 0], [4, "checkout:place/1", 2, 0], [4, "checkout:cancel/1", 1, 1],
    ]);
  });

  it("sketches that cannot be read are counted with why, and the probe's other events still read", () => {
    const m = new SummaryMerge(true);
    const good = event("a@h", 1e6, [100, 200]);
    m.add({ ...good, sketches: Uint8Array.from([7, 0, 0]) });
    m.add({ ...good, sketches: good.sketches.subarray(0, good.sketches.length - 30) });
    m.add(good);
    expect(m.unreadable.events).toBe(2);
    expect(m.unreadable.reason).toMatch(/end early .*damaged/);
    expect(m.rows().map((x) => [x.node, x.count])).toEqual([["a@h", 2], ["all", 2]]);
    // Names for one function, records for two.
    const two = eventOf("b@h", 1e6, [shipped([1], 0.01), shipped([2], 0.01)], 0.01).sketches;
    const one = eventOf("b@h", 1e6, [shipped([1], 0.01)], 0.01).sketches;
    m.add({ ...good, node: "b@h", sketches: Uint8Array.from([...one.subarray(0, 3 + one[2]).map((x, i) => (i === 1 ? 2 : x)), ...two.subarray(3 + two[2])]) });
    expect(m.unreadable).toEqual({ events: 3, reason: "a summary's packed sketches name 1 functions and hold 2: the binary is damaged" });
    const other = new SummaryMerge(true);
    other.add({ ...good, sketches: Uint8Array.from([7, 0, 0]) });
    expect(other.unreadable.reason).toBe("a summary's packed sketches are version 7, and this kernel reads version 1: reconnect to load this kernel's agent on the node");
  });
});

/**
 * How a `--summary` interval crosses the network (kernel/analysis/packedSketches.ts, the kernel's reader and
 * writer of elixir_agent/src/lumin_summary_wire.erl's binary): the bytes of a fixed interval are pinned here and
 * in the ExUnit lumin_summary_wire_test alike, so the two sides cannot drift apart unseen; random sketches read
 * back bucket for bucket; a binary of another version or cut short is refused with what to do.
 */
import { describe, expect, it } from "vitest";
import { packSketches, PackedReader, readNames, unpackSketches, type FunctionSketch } from "../../kernel/analysis/packedSketches";
import { RankWalk } from "../../kernel/analysis/rankWalk";
import { rng } from "../../bench/seededRandom";
import { sketchOf } from "../../bench/simulatedCluster";

const text = (s: string) => [...Buffer.from(s, "utf8")];
// The same bytes as @golden in elixir_agent/test/lumin_summary_wire_test.exs.
const GOLDEN = Uint8Array.from([
  1, 2, 43, 18, 0, ...text("Elixir.Shop.Orders"), 5, 0, ...text("place"), 2, 8, 0, ...text("checkout"), 2, 0, 195, 169, 0,
  9, 7, 1, 1, 246, 40, 92, 143, 130, 164, 176, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 175, 64,
  67, 194, 3, 1, 0, 114, 2, 0, 158, 1, 1, 0, 3, 1, 0, 170, 1, 1,
  172, 2, 172, 2, 0, 0, 0, 0, 0, 0, 0, 104, 160, 64, 0, 0, 0, 0, 0, 0, 28, 64, 0, 0, 0, 0, 0, 0, 28, 64, 196, 1, 1, 172, 2,
]);

/** Every function of a packed binary read back as objects (its buckets from a dense array the reader filled). */
function unpack(b: Uint8Array): FunctionSketch[] {
  const r = new PackedReader();
  const w = new RankWalk();
  r.open(b);
  const names = readNames(r.names);
  expect(names).toHaveLength(r.functions);
  return names.map((n) => {
    r.next();
    const dense = new Float64Array(r.span + 2);
    w.start(r.count, r.zero, r.max, 0.01);
    r.buckets(dense, 1, w);
    const buckets: [number, number][] = [];
    dense.forEach((c, k) => c && buckets.push([r.first + k - 1, c]));
    expect([dense[0], dense[r.span + 1]]).toEqual([0, 0]);
    return { ...n, calls: r.calls, count: r.count, errors: r.errors, sum_us: r.sum, min_us: r.min, max_us: r.max, zero: r.zero, buckets };
  });
}

describe("packed sketches", () => {
  it("a fixed interval reads as the node packed it, and the kernel packs it to the same bytes", () => {
    const place: FunctionSketch = { module: "Elixir.Shop.Orders", function: "place", arity: 2, calls: 9, count: 7, errors: 1, sum_us: 4260.51, min_us: 0, max_us: 4000, zero: 1, buckets: [[-34, 1], [81, 2], [240, 1], [244, 1], [415, 1]] };
    const e: FunctionSketch = { module: "checkout", function: "é", arity: 0, calls: 300, count: 300, errors: 0, sum_us: 2100, min_us: 7, max_us: 7, zero: 0, buckets: [[98, 300]] };
    expect(unpack(GOLDEN)).toEqual([place, e]);
    expect([...packSketches([place, e])]).toEqual([...GOLDEN]);
    // As lumin_sketch buckets the same values.
    expect(sketchOf([0, 0.5, 5, 5.01, 120, 130, 4000], 0.01, place, 1)).toEqual({ ...place, calls: 7, sum_us: expect.closeTo(4260.51, 9) });
  });

  it("random sketches read back bucket for bucket: long runs of empty buckets, counts of many bytes, negative indexes, no bucket at all", () => {
    const r = rng(3);
    for (let run = 0; run < 30; run++) {
      const fns: FunctionSketch[] = Array.from({ length: 1 + (run % 5) }, (_, f) => {
        const buckets: [number, number][] = [];
        let i = -500 + Math.floor(r() * 1000);
        const n = run % 7 === 0 && f === 0 ? 0 : 1 + Math.floor(r() * 300);
        for (let k = 0; k < n; k++) {
          buckets.push([i, 1 + Math.floor(r() < 0.1 ? r() * 2 ** 36 : r() < 0.5 ? r() * 200 : r() * 3)]);
          i += 1 + (r() < 0.2 ? Math.floor(r() * 400) : 0);
        }
        const count = buckets.reduce((a, [, c]) => a + c, 0) + f;
        return { module: `m${run}`, function: `f${f}`, arity: f, calls: count + Math.floor(r() * 2 ** 40), count, errors: f, sum_us: r() * 1e6, min_us: r(), max_us: 1e6 * r(), zero: f, buckets };
      });
      expect(unpack(packSketches(fns))).toEqual(fns);
      expect(unpackSketches(packSketches(fns))).toEqual(fns);
    }
  });

  it("a walk fed as the binary is read finds each quantile's bucket, with the buckets still read when it is done early", () => {
    const s = sketchOf([1, 2, 3, 4, 1000, 1001], 0.01, { module: "m", function: "f", arity: 1 });
    const r = new PackedReader();
    const w = new RankWalk();
    r.open(packSketches([s, s]));
    for (let f = 0; f < 2; f++) {
      r.next();
      w.start(r.count, r.zero, r.max, 0.01);
      r.buckets(null, 0, w);
      [3, 1000, 1001].forEach((want, i) => expect(Math.abs(w.at(i)! - want)).toBeLessThanOrEqual(0.01 * want));
    }
    // A function whose buckets the caller skips is stepped over by next().
    r.open(packSketches([s, { ...s, count: 9 }]));
    r.next();
    r.next();
    expect(r.count).toBe(9);
  });

  it("a binary of another version, cut short, or with a run past its span is refused, saying so", () => {
    const r = new PackedReader();
    expect(() => r.open(Uint8Array.from([2, 0, 0]))).toThrow("a summary's packed sketches are version 2, and this kernel reads version 1: reconnect to load this kernel's agent on the node");
    expect(() => r.open(Uint8Array.from([1]))).toThrow(/too short to read/);
    const b = packSketches([sketchOf([1, 2, 300], 0.01, { module: "m", function: "f", arity: 1 })]);
    const walk = new RankWalk();
    const read = (x: Uint8Array) => {
      r.open(x);
      r.next();
      r.buckets(null, 0, walk);
    };
    expect(() => read(b)).not.toThrow();
    expect(() => read(b.subarray(0, b.length - 1))).toThrow(/end early \(\d+ bytes\): the binary is damaged/);
    // Buckets 0, 5 and 21: the run of empty buckets before 21 (its last but one byte) made longer than the span.
    const gaps = packSketches([sketchOf([1, 1.1, 1.5], 0.01, { module: "m", function: "f", arity: 1 })]);
    expect([...gaps.subarray(-6)]).toEqual([0, 4, 1, 0, 15, 1]);
    const bad = Uint8Array.from(gaps);
    bad[bad.length - 2] += 100;
    expect(() => read(bad)).toThrow(/run of empty buckets past the sketch's span/);
  });
});

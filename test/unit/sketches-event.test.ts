/**
 * A node's `probe_sketches` event as the bridge passes it on (decoded from external format) read into the
 * kernel's SketchesEvent (kernel/beam/sketchesEvent.ts): every field, the packed sketches as the bytes they came
 * in, and the size the caption reports; and events recorded before nodes packed their sketches (a list of maps,
 * as in the recording under notebooks/investigations/recordings/cluster) read into the same rows.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { packedQuantiles, SummaryMerge } from "../../kernel/analysis/sketchMerge";
import { packSketches } from "../../kernel/analysis/packedSketches";
import { Atom, decode, encode, ErlFloat, ErlMap, List, Tuple } from "../../kernel/beam/etf";
import { sketchesEvent } from "../../kernel/beam/sketchesEvent";
import { sketchOf } from "../../bench/simulatedCluster";

const a = (name: string) => new Atom(name);
const text = (s: string) => Buffer.from(s, "utf8");
const fromFrame = (payload: ErlMap) => sketchesEvent((decode(encode(new Tuple([a("event"), a("probe_sketches"), payload]))) as Tuple).elements[2] as ErlMap);

/** A sketch as nodes shipped it before packing: a map, its buckets as int32 index / uint32 count pairs. */
function recordedMap(s: ReturnType<typeof sketchOf>, calls?: number): ErlMap {
  const bins = Buffer.alloc(8 * (s.buckets.length + (s.zero ? 1 : 0)));
  let o = 0;
  if (s.zero) o = bins.writeUInt32LE(s.zero, bins.writeInt32LE(-2147483648, 0));
  for (const [i, c] of s.buckets) o = bins.writeUInt32LE(c, bins.writeInt32LE(i, o));
  return new ErlMap([
    [a("module"), text(s.module)], [a("function"), text(s.function)], [a("arity"), s.arity], [a("count"), s.count], [a("errors"), s.errors],
    [a("sum_us"), new ErlFloat(s.sum_us)], [a("min_us"), new ErlFloat(s.min_us)], [a("max_us"), new ErlFloat(s.max_us)], [a("bins"), bins],
    ...(calls === undefined ? [] : [[a("calls"), calls] as [Atom, number]]),
  ]);
}

describe("sketchesEvent", () => {
  const s = sketchOf([0, 5, 120, 130, 4000], 0.01, { module: "Elixir.Shop.Orders", function: "place", arity: 2 }, 1);
  const head = (sketches: unknown): [Atom, unknown][] => [
    [a("at_us"), 1_800_000_000_000_000], [a("every_ms"), 1000], [a("alpha"), new ErlFloat(0.01)],
    [a("sketches"), sketches], [a("name"), text("lat")], [a("node"), text("shop@host")],
  ];

  it("reads a decoded probe_sketches payload: fields, the packed sketches (unaligned in the frame) and its size", () => {
    const packed = packSketches([s, s]);
    const payload = new ErlMap(head(packed));
    const e = fromFrame(payload);
    expect({ ...e, sketches: undefined }).toEqual({ name: "lat", node: "shop@host", at_us: 1_800_000_000_000_000, every_ms: 1000, alpha: 0.01, bytes: encode(payload).length, sketches: undefined });
    expect([...e.sketches]).toEqual([...packed]);
    expect(e.sketches.byteOffset % 8).not.toBe(0);
    expect(packedQuantiles(e.sketches, 0.01)).toHaveLength(2);
  });

  it("reads an event recorded before nodes packed their sketches (a map per function) as the same packed sketches", () => {
    const e = fromFrame(new ErlMap(head(new List([recordedMap(s), recordedMap(s)]))));
    expect([...e.sketches]).toEqual([...packSketches([s, s])]);
    // Recorded while calls were sampled: the exact calls beside the sketch's count.
    const sampled = fromFrame(new ErlMap(head(new List([recordedMap(s, 40)]))));
    expect([...sampled.sketches]).toEqual([...packSketches([{ ...s, calls: 40 }])]);
    expect(fromFrame(new ErlMap(head(new List([])))).sketches).toEqual(packSketches([]));
  });

  it("replays the stored cluster recording's sketches: every node's row has the count, errors and max the node recorded", () => {
    const file = path.join(__dirname, "..", "..", "notebooks", "investigations", "recordings", "cluster", "timeline.jsonl");
    const entries = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.type === "probe_sketches");
    expect(entries.length).toBeGreaterThan(10);
    const m = new SummaryMerge(true);
    const want: [string, number, number, number][] = [];
    for (const x of entries) {
      const e = sketchesEvent(decode(Buffer.from(x.etf, "base64")) as ErlMap);
      m.add({ ...e, at_us: Number(e.at_us) });
      for (const r of x.data.sketches) want.push([x.data.node, r.count, r.errors, r.max_us]);
    }
    expect(m.unreadable.events).toBe(0);
    const got = m.rows().filter((r) => r.node !== "all");
    expect(got.map((r) => [r.node, r.count, r.errors, r.max_us]).sort()).toEqual(want.sort());
    expect(got.every((r) => r.p50_us! > 0 && r.p50_us! <= r.p99_us! && r.p99_us! <= r.max_us! * 1.01)).toBe(true);
    // Recorded before calls were sampled: every call fed the sketch.
    expect(new Set(m.rows().map((r) => r.sampled))).toEqual(new Set([1]));
  });
});

/**
 * A node's `probe_sketches` event as the bridge passes it on (decoded from external format) read into the
 * kernel's SketchesEvent (kernel/beam/sketchesEvent.ts): every field, the buckets as the bytes they came in,
 * and the size the caption reports.
 */
import { describe, expect, it } from "vitest";
import { shipSketch, sketchQuantiles } from "../../kernel/analysis/sketchMerge";
import { Atom, decode, encode, ErlFloat, ErlMap, List, Tuple } from "../../kernel/beam/etf";
import { sketchesEvent } from "../../kernel/beam/sketchesEvent";

const a = (name: string) => new Atom(name);
const text = (s: string) => Buffer.from(s, "utf8");

describe("sketchesEvent", () => {
  it("reads a decoded probe_sketches payload: fields, buckets (unaligned in the frame) and its size", () => {
    const s = shipSketch([0, 5, 120, 130, 4000], 0.01, { module: "Elixir.Shop.Orders", function: "place", arity: 2 }, 1);
    // As lumin_summary:take/1 builds it, with the probe's name and node (floats as floats).
    const sketch = new ErlMap([
      [a("module"), text(s.module)], [a("function"), text(s.function)], [a("arity"), 2], [a("calls"), 50], [a("count"), 5], [a("errors"), 1],
      [a("sum_us"), new ErlFloat(s.sum_us)], [a("min_us"), new ErlFloat(0)], [a("max_us"), new ErlFloat(4000)], [a("bins"), s.bins],
    ]);
    const payload = new ErlMap([
      [a("at_us"), 1_800_000_000_000_000], [a("every_ms"), 1000], [a("alpha"), new ErlFloat(0.01)],
      [a("sketches"), new List([sketch, sketch])], [a("name"), text("lat")], [a("node"), text("shop@host")],
    ]);
    const frame = encode(new Tuple([a("event"), a("probe_sketches"), payload]));
    const decoded = (decode(frame) as Tuple).elements[2] as ErlMap;
    const e = sketchesEvent(decoded);
    expect({ ...e, sketches: undefined }).toEqual({ name: "lat", node: "shop@host", at_us: 1_800_000_000_000_000, every_ms: 1000, alpha: 0.01, bytes: encode(payload).length, sketches: undefined });
    expect(e.sketches).toHaveLength(2);
    const got = e.sketches[0];
    expect({ ...got, bins: undefined }).toEqual({ module: "Elixir.Shop.Orders", function: "place", arity: 2, calls: 50, count: 5, errors: 1, sum_us: s.sum_us, min_us: 0, max_us: 4000, bins: undefined });
    expect([...got.bins]).toEqual([...s.bins]);
    expect(sketchQuantiles(got, 0.01)).toEqual(sketchQuantiles(s, 0.01));
  });
});

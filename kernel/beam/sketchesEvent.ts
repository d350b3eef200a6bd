/**
 * A `probe_sketches` payload (elixir_agent/src/lumin_summary.erl's take/1, stamped with the probe's name and
 * node) as the kernel's SketchesEvent: each field read once from the decoded map, the sketches kept as the packed
 * binary they arrived in (kernel/analysis/packedSketches.ts), to be read without a term per function or bucket.
 *
 * Events recorded before nodes packed their sketches (recordings under notebooks/, `%record` folders) carry a
 * list of maps instead, one per function, with its buckets as int32 index / uint32 count pairs (the zero bucket
 * as index −2^31), and `calls` beside `count` from when calls were sampled: those are packed here, so a replay of
 * an old recording reads as it did.
 */
import { Atom, encodedSize, ErlMap, List } from "./etf";
import { toJs } from "./term";
import { packSketches, type FunctionSketch } from "../analysis/packedSketches";
import type { SketchesEvent } from "../analysis/sketchMerge";

const NO_SKETCHES = packSketches([]);
const ZERO_INDEX = -2147483648;

export function sketchesEvent(payload: ErlMap): SketchesEvent {
  const e: SketchesEvent = { name: "", node: "", at_us: 0, every_ms: 0, alpha: 0, sketches: NO_SKETCHES };
  for (const [k, v] of payload.entries) {
    if (!(k instanceof Atom)) continue;
    if (k.name === "sketches") e.sketches = v instanceof Uint8Array ? v : v instanceof List ? packSketches(v.elements.map((m) => recordedSketch(m as ErlMap))) : NO_SKETCHES;
    else (e as unknown as Record<string, unknown>)[k.name] = toJs(v);
  }
  // What the node shipped, as external format (its size as the kernel would encode it: within a few bytes of
  // the node's own).
  e.bytes = encodedSize(payload);
  return e;
}

/** One function's sketch as nodes shipped it before packing (a map; `bins` as index/count word pairs). */
function recordedSketch(m: ErlMap): FunctionSketch {
  const s: FunctionSketch = { module: "", function: "", arity: 0, calls: -1, count: 0, errors: 0, sum_us: 0, min_us: 0, max_us: 0, zero: 0, buckets: [] };
  for (const [k, v] of m.entries) {
    if (!(k instanceof Atom)) continue;
    if (k.name === "bins") {
      const bins = v instanceof Uint8Array ? v : new Uint8Array(0);
      const view = new DataView(bins.buffer, bins.byteOffset, bins.byteLength);
      const buckets: [number, number][] = [];
      for (let o = 0; o + 8 <= bins.byteLength; o += 8) {
        const i = view.getInt32(o, true);
        const c = view.getUint32(o + 4, true);
        if (i === ZERO_INDEX) s.zero += c;
        else buckets.push([i, c]);
      }
      s.buckets = buckets;
    } else if (k.name in s) {
      // Names as text; figures as numbers (a count past 2^31 may have arrived as a BigInt).
      const x = toJs(v);
      (s as unknown as Record<string, unknown>)[k.name] = typeof x === "string" ? x : Number(x);
    }
  }
  // Before calls were counted apart, every call fed the sketch.
  if (s.calls < 0) s.calls = s.count;
  return s;
}

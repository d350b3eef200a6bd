/**
 * A `probe_sketches` payload (elixir_agent/src/lumin_summary.erl's take/1, stamped with the probe's name and
 * node) as the kernel's SketchesEvent: each field read once from the decoded map, the buckets kept as the bytes
 * they arrived in (read as text they could pass for UTF-8 and become a string). A cluster of 200 nodes × 20
 * functions sends 4,000 of these sketches a tick, so nothing here builds an intermediate object per field.
 */
import { Atom, encodedSize, ErlMap, List } from "./etf";
import { toJs } from "./term";
import type { ShippedSketch, SketchesEvent } from "../analysis/sketchMerge";

const NO_BINS = new Uint8Array(0);

function sketchOf(m: ErlMap): ShippedSketch {
  const s: ShippedSketch = { module: "", function: "", arity: 0, count: 0, errors: 0, sum_us: 0, min_us: 0, max_us: 0, bins: NO_BINS };
  for (const [k, v] of m.entries) {
    if (!(k instanceof Atom)) continue;
    if (k.name === "bins") s.bins = v instanceof Uint8Array ? v : NO_BINS;
    else if (k.name === "calls") s.calls = Number(toJs(v));
    else if (k.name in s) (s as unknown as Record<string, unknown>)[k.name] = toJs(v);
  }
  return s;
}

export function sketchesEvent(payload: ErlMap): SketchesEvent {
  const e: SketchesEvent = { name: "", node: "", at_us: 0, every_ms: 0, alpha: 0, sketches: [] };
  for (const [k, v] of payload.entries) {
    if (!(k instanceof Atom)) continue;
    if (k.name === "sketches") e.sketches = v instanceof List ? v.elements.map((m) => sketchOf(m as ErlMap)) : [];
    else (e as unknown as Record<string, unknown>)[k.name] = toJs(v);
  }
  // What the node shipped, as external format (its size as the kernel would encode it: within a few bytes of
  // the node's own).
  e.bytes = encodedSize(payload);
  return e;
}

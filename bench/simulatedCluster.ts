/**
 * A simulated cluster's `--summary` streams, without a node: the durations each node's calls took, bucketed as
 * elixir_agent/src/lumin_sketch.erl buckets them and packed as lumin_summary_wire.erl packs them, as the events
 * the kernel's merge reads (kernel/analysis/sketchMerge.ts) or the frames the bridge passes on. The benchmark
 * (bench/cluster.ts, what a 200-node cluster costs the kernel) and the merge's tests (test/unit/summary-merge.test.ts)
 * both feed the merge from here.
 */
import { atom, encode, type ErlMap, Tuple } from "../kernel/beam/etf";
import { packSketches, type FunctionSketch } from "../kernel/analysis/packedSketches";
import type { SketchesEvent } from "../kernel/analysis/sketchMerge";

/** The name of simulated node `k`. */
export const nodeName = (k: number) => `n${k}@host`;

/**
 * The sketch a node keeps of `values` (µs) for one function, bucketed as lumin_sketch buckets them (no bound on
 * the buckets: simulations stay well inside the node's 1,024).
 */
export function sketchOf(values: readonly number[], alpha: number, fn: { module: string; function: string; arity: number }, errors = 0): FunctionSketch {
  const lnGamma = Math.log((1 + alpha) / (1 - alpha));
  const bins = new Map<number, number>();
  let zero = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v <= 0.001) zero++;
    else {
      const i = Math.ceil(Math.log(v) / lnGamma);
      bins.set(i, (bins.get(i) ?? 0) + 1);
    }
  }
  const buckets = [...bins].sort((a, b) => a[0] - b[0]);
  return { ...fn, calls: values.length, count: values.length, errors, sum_us: sum, min_us: values.length ? min : 0, max_us: values.length ? max : 0, zero, buckets };
}

/** A node's event for the interval ending at `atUs`: its functions' sketches, packed. */
export function eventOf(node: string, atUs: number, sketches: readonly FunctionSketch[], alpha: number, name = "sim"): SketchesEvent {
  return { name, node, at_us: atUs, every_ms: 1000, alpha, sketches: packSketches(sketches) };
}

/** The frame the bridge passes on for `e` (`{event, probe_sketches, Payload}` in external format). */
export function frameOf(e: SketchesEvent): Buffer {
  const payload = { name: e.name, node: e.node, at_us: e.at_us, every_ms: e.every_ms, alpha: e.alpha, sketches: e.sketches };
  return encode(new Tuple([atom("event"), atom("probe_sketches"), payload as unknown as ErlMap]));
}

/** One interval of a simulated cluster: each node's event, and every node's durations per function. */
export interface SimulatedInterval {
  events: SketchesEvent[];
  /** Function index → every node's durations of that function in this interval, node by node. */
  values: number[][];
}

/**
 * One interval of `nodes` nodes × `functions` functions (`module:f<i>/1`): `durations(node, fn)` gives the
 * durations of a node's calls of a function, `errors(node, fn)` how many of them raised.
 */
export function simulateInterval(opts: {
  nodes: number;
  functions: number;
  atUs: number;
  alpha: number;
  module?: string;
  durations: (node: number, fn: number) => number[];
  errors?: (node: number, fn: number) => number;
}): SimulatedInterval {
  const values: number[][] = Array.from({ length: opts.functions }, () => []);
  const events = Array.from({ length: opts.nodes }, (_, k) => {
    const sketches = Array.from({ length: opts.functions }, (_, f) => {
      const v = opts.durations(k, f);
      for (const x of v) values[f].push(x);
      return sketchOf(v, opts.alpha, { module: opts.module ?? "sim", function: `f${f}`, arity: 1 }, opts.errors?.(k, f) ?? 0);
    });
    return eventOf(nodeName(k), opts.atUs, sketches, opts.alpha);
  });
  return { events, values };
}

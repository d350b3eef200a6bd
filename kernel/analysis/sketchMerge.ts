/**
 * The kernel's side of `%probe MFA --summary`: each node ships, per interval, one latency sketch per function
 * (elixir_agent/src/lumin_sketch.erl: log-bucketed, relative error `alpha`), and this file turns them into the
 * rows of the `summary` table — one per node, function and interval, and one per function and interval merged
 * over every node (`node: "all"`).
 *
 * Reading a quantile is what the node's lumin_sketch:quantile/2 does: the rank floor(q · (n − 1)), the zero
 * bucket first, then the buckets in order; bucket i is estimated as 2γ^i / (γ + 1), within `alpha` (relative)
 * of every value in it. Merging adds counts bucket by bucket, so the merged quantiles carry the same bound.
 *
 * Cost: a node's row is read when its sketches arrive (one pass over its buckets); the merge of an interval
 * adds each node's buckets into one dense array per function (no map per bucket), and its quantiles are read
 * once, when the table is asked for. Nothing here keeps a node's buckets after they are merged.
 */

/** One function's sketch for one interval, as a node ships it. */
export interface ShippedSketch {
  module: string;
  function: string;
  arity: number;
  count: number;
  errors: number;
  sum_us: number;
  min_us: number;
  max_us: number;
  /** Buckets, lowest first: int32 index, uint32 count, little-endian; the zero bucket as index -2^31. */
  bins: Uint8Array;
}

/** A node's `probe_sketches` event: every function called in the interval that ended at `at_us`. */
export interface SketchesEvent {
  name: string;
  node: string;
  at_us: number;
  every_ms: number;
  alpha: number;
  sketches: ShippedSketch[];
  /** Its size in external format, when known: what crossed the network. */
  bytes?: number;
}

/** A row of the `summary` table. */
export interface SummaryRow {
  time_us: number;
  node: string;
  function: string;
  count: number;
  errors: number;
  p50_us: number | null;
  p90_us: number | null;
  p99_us: number | null;
  max_us: number | null;
  mean_us: number | null;
}

/** The quantiles every row gives. */
export const SUMMARY_QUANTILES = [0.5, 0.9, 0.99] as const;

const ZERO_INDEX = -2147483648;

/** A function as users write it: `Shop.Orders.place/2` on Elixir modules, `checkout:place/1` on Erlang ones. */
export function functionName(module: string, fun: string, arity: number): string {
  return module.startsWith("Elixir.") ? `${module.slice(7)}.${fun}/${arity}` : `${module}:${fun}/${arity}`;
}

/** The estimate of bucket `i`: 2γ^i / (γ + 1). */
function estimate(i: number, gamma: number): number {
  return (2 * Math.pow(gamma, i)) / (gamma + 1);
}

/**
 * Quantiles from buckets given lowest first as (index, count) pairs in `w` (from `from`, step 2; indexes as
 * signed words, or — `dense` — position + `low`), `zero` values in the zero bucket before them, `n` in all:
 * for each q, the estimate of the bucket holding rank floor(q · (n − 1)); 0 for the zero bucket.
 */
function quantilesOf(n: number, gamma: number, max: number, zero: number, read: { w: Uint32Array } | { dense: Float64Array; low: number }): (number | null)[] {
  if (n === 0) return SUMMARY_QUANTILES.map(() => null);
  const ranks = SUMMARY_QUANTILES.map((q) => Math.floor(q * (n - 1)));
  const out: (number | null)[] = ranks.map(() => max);
  let k = 0;
  let seen = zero;
  while (k < ranks.length && ranks[k] < seen) out[k++] = 0;
  if ("w" in read) {
    const w = read.w;
    for (let j = 0; j + 1 < w.length && k < ranks.length; j += 2) {
      seen += w[j + 1];
      while (k < ranks.length && ranks[k] < seen) out[k++] = estimate(w[j] | 0, gamma);
    }
  } else {
    const { dense, low } = read;
    for (let i = 0; i < dense.length && k < ranks.length; i++) {
      if (dense[i] === 0) continue;
      seen += dense[i];
      while (k < ranks.length && ranks[k] < seen) out[k++] = estimate(i + low, gamma);
    }
  }
  return out;
}

/**
 * A sketch's buckets as 32-bit words (index, count, index, count, …), read in place when aligned, else from a
 * copy. The words are little-endian, as the node writes them and as every host Node.js runs on reads them.
 */
function words(bins: Uint8Array): Uint32Array {
  const n = bins.byteLength >> 2;
  if (bins.byteOffset % 4 === 0) return new Uint32Array(bins.buffer, bins.byteOffset, n);
  // A copy (a Node Buffer's slice() would be a view of the same, unaligned, memory).
  const copy = new Uint8Array(n * 4);
  copy.set(bins.subarray(0, n * 4));
  return new Uint32Array(copy.buffer);
}

/** A sketch's zero bucket and its other buckets' words. */
function split(bins: Uint8Array): { zero: number; w: Uint32Array } {
  const w = words(bins);
  return w.length >= 2 && (w[0] | 0) === ZERO_INDEX ? { zero: w[1], w: w.subarray(2) } : { zero: 0, w };
}

/** The quantiles of one shipped sketch. */
export function sketchQuantiles(s: ShippedSketch, alpha: number): (number | null)[] {
  const { zero, w } = split(s.bins);
  return quantilesOf(s.count, (1 + alpha) / (1 - alpha), s.max_us, zero, { w });
}

/** An interval's merge for one function: counts bucket by bucket in a dense array that grows to fit. */
class MergedFunction {
  private counts = new Float64Array(0);
  private low = 0;
  zero = 0;
  count = 0;
  errors = 0;
  sum = 0;
  max = -Infinity;

  add(s: ShippedSketch, zero: number, w: Uint32Array): void {
    this.count += s.count;
    this.errors += s.errors;
    this.sum += s.sum_us;
    if (s.max_us > this.max) this.max = s.max_us;
    this.zero += zero;
    if (w.length < 2) return;
    this.fit(w[0] | 0, w[w.length - 2] | 0);
    const counts = this.counts;
    const low = this.low;
    for (let k = 0; k + 1 < w.length; k += 2) counts[(w[k] | 0) - low] += w[k + 1];
  }

  /** Room for buckets first..last (buckets are bounded on the node, so this stays small). */
  private fit(first: number, last: number): void {
    const high = this.low + this.counts.length - 1;
    if (this.counts.length && first >= this.low && last <= high) return;
    const lo = this.counts.length ? Math.min(first, this.low) : first;
    const hi = this.counts.length ? Math.max(last, high) : last;
    const grown = new Float64Array(hi - lo + 1 + 16);
    if (this.counts.length) grown.set(this.counts, this.low - lo);
    this.counts = grown;
    this.low = lo;
  }

  quantiles(gamma: number): (number | null)[] {
    return quantilesOf(this.count, gamma, this.max, this.zero, { dense: this.counts, low: this.low });
  }
}

/**
 * The summary of one probe (on one node, or across the nodes of a `--nodes` probe): every node's rows as its
 * sketches arrive, and each interval's merge over the nodes.
 */
export class SummaryMerge {
  private readonly nodeRows: SummaryRow[] = [];
  /** at_us → function → its merge. */
  private readonly intervals = new Map<number, Map<string, MergedFunction>>();
  /** The merged rows of intervals already read (an interval's merge is read once every node has passed it). */
  private readonly mergedRows = new Map<number, SummaryRow[]>();
  private readonly lastAt = new Map<string, number>();
  /** `Mod.fun/arity` by module, function and arity, made once (every interval of every node names them again). */
  private readonly names = new Map<string, string>();
  alpha = 0.01;
  everyMs = 1000;
  /** What the nodes shipped: bytes, and function-intervals (one function's sketch for one interval). */
  shipped = { bytes: 0, sketches: 0, events: 0 };

  constructor(private readonly mergeNodes: boolean) {}

  /** Sketches from a node: its rows now, its buckets into the interval's merge. */
  add(e: SketchesEvent): void {
    this.alpha = e.alpha;
    this.everyMs = e.every_ms;
    this.lastAt.set(e.node, Math.max(this.lastAt.get(e.node) ?? 0, e.at_us));
    this.shipped.bytes += e.bytes ?? 0;
    this.shipped.sketches += e.sketches.length;
    this.shipped.events++;
    const merged = this.mergeNodes ? (this.intervals.get(e.at_us) ?? this.intervals.set(e.at_us, new Map()).get(e.at_us)!) : null;
    const gamma = (1 + e.alpha) / (1 - e.alpha);
    for (const s of e.sketches) {
      const key = `${s.module}\u0000${s.function}\u0000${s.arity}`;
      let fn = this.names.get(key);
      if (fn === undefined) this.names.set(key, (fn = functionName(s.module, s.function, s.arity)));
      const { zero, w } = split(s.bins);
      const [p50, p90, p99] = quantilesOf(s.count, gamma, s.max_us, zero, { w });
      this.nodeRows.push({ time_us: e.at_us, node: e.node, function: fn, count: s.count, errors: s.errors, p50_us: p50, p90_us: p90, p99_us: p99, max_us: s.max_us, mean_us: s.count ? s.sum_us / s.count : null });
      if (merged) {
        let m = merged.get(fn);
        if (!m) merged.set(fn, (m = new MergedFunction()));
        m.add(s, zero, w);
      }
    }
    // Intervals every node has passed are read now and their buckets let go.
    if (merged) {
      const done = Math.min(...this.lastAt.values());
      for (const at of [...this.intervals.keys()]) if (at < done) this.close(at);
    }
  }

  private close(at: number): void {
    const fns = this.intervals.get(at);
    if (!fns) return;
    this.intervals.delete(at);
    this.mergedRows.set(at, this.readMerged(at, fns));
  }

  private readMerged(at: number, fns: Map<string, MergedFunction>): SummaryRow[] {
    const gamma = (1 + this.alpha) / (1 - this.alpha);
    return [...fns].map(([fn, m]) => {
      const [p50, p90, p99] = m.quantiles(gamma);
      return { time_us: at, node: "all", function: fn, count: m.count, errors: m.errors, p50_us: p50, p90_us: p90, p99_us: p99, max_us: m.count ? m.max : null, mean_us: m.count ? m.sum / m.count : null };
    });
  }

  /** Every row so far, oldest interval first: each node's rows, then the interval's merged row (`node: "all"`). */
  rows(): SummaryRow[] {
    const merged = new Map(this.mergedRows);
    for (const [at, fns] of this.intervals) merged.set(at, this.readMerged(at, fns));
    const out: SummaryRow[] = [];
    const byTime = new Map<number, SummaryRow[]>();
    for (const r of this.nodeRows) (byTime.get(r.time_us) ?? byTime.set(r.time_us, []).get(r.time_us)!).push(r);
    const times = [...new Set([...byTime.keys(), ...merged.keys()])].sort((a, b) => a - b);
    for (const t of times) out.push(...(byTime.get(t) ?? []), ...(merged.get(t) ?? []));
    return out;
  }

  /** Bytes shipped per function per interval, on average (what one node sends for one function each --every). */
  bytesPerSketch(): number | null {
    return this.shipped.sketches && this.shipped.bytes ? this.shipped.bytes / this.shipped.sketches : null;
  }

  get count(): number {
    return this.nodeRows.length;
  }
}

/**
 * The sketch a node would ship for `values` (µs), bucketed as lumin_sketch.erl buckets them: for simulations
 * of many nodes (the tests and the benchmark feed these to SummaryMerge), without a node.
 */
export function shipSketch(values: readonly number[], alpha: number, fn = { module: "sim", function: "work", arity: 1 }, errors = 0): ShippedSketch {
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
  const sorted = [...bins].sort((a, b) => a[0] - b[0]);
  const bytes = new Uint8Array(8 * (sorted.length + (zero ? 1 : 0)));
  const view = new DataView(bytes.buffer);
  let off = 0;
  if (zero) {
    view.setInt32(0, ZERO_INDEX, true);
    view.setUint32(4, zero, true);
    off = 8;
  }
  for (const [i, c] of sorted) {
    view.setInt32(off, i, true);
    view.setUint32(off + 4, c, true);
    off += 8;
  }
  return { ...fn, count: values.length, errors, sum_us: sum, min_us: min, max_us: max, bins: bytes };
}

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
 * Cost (a 200-node × 20-function cluster sends 4,000 sketches a tick, bench section `cluster`): a sketch's
 * buckets are copied into one reused word buffer and read from there (no typed array, map or object per
 * bucket or per sketch); a node's row is read when its sketches arrive — p50 walking up from the lowest bucket,
 * p90 and p99 down from the highest, so about half the buckets — and kept as columns; the merge of an interval
 * adds each node's buckets into one dense array per function, and its quantiles are read once every node has
 * passed it (found without scanning every node on every event). Nothing keeps a node's buckets after they are
 * merged. Rows become objects only when the table is asked for.
 */

/** One function's sketch for one interval, as a node ships it. */
export interface ShippedSketch {
  module: string;
  function: string;
  arity: number;
  /**
   * The function's calls in the interval, exact (the VM's call_count); absent from nodes and recordings from
   * before the node counted them, when every call fed the sketch (`count`).
   */
  calls?: number;
  /** The calls that fed the sketch (elixir_agent/src/lumin_sampler.erl bounds them). */
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
  sampled: number | null;
  errors: number;
  p50_us: number | null;
  p90_us: number | null;
  p99_us: number | null;
  max_us: number | null;
  mean_us: number | null;
}

/** The share of `calls` that fed a sketch of `fed` values: at most 1 (a call made in one interval may complete in the next); null without calls. */
function share(fed: number, calls: number): number {
  return calls > 0 ? Math.min(1, fed / calls) : fed > 0 ? 1 : NaN;
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
 * Where the quantile readers leave p50, p90, p99 (one reader runs at a time: nothing is allocated per row).
 * NaN when there were no values.
 */
const Q = new Float64Array(3);

/**
 * p50, p90, p99 into Q from buckets given lowest first as (index, count) pairs of words in W[from, to) (indexes
 * as signed words; see load), `zero` values in the zero bucket before them, `n` in all: for each q, the estimate of the
 * bucket holding rank floor(q · (n − 1)); 0 for the zero bucket. p50 is found walking up from the lowest
 * bucket, p90 and p99 walking down from the highest (the same bucket: the one holding rank n − 1 − r counted
 * from the top), so a row reads about half its buckets and not all of them.
 */
function sparseQuantiles(n: number, gamma: number, max: number, zero: number, from: number, to: number): void {
  const w = W;
  if (n === 0) return void Q.fill(NaN);
  const r50 = Math.floor(0.5 * (n - 1));
  Q[0] = max;
  if (r50 < zero) Q[0] = 0;
  else {
    let seen = zero;
    for (let j = from; j + 1 < to; j += 2) {
      seen += w[j + 1];
      if (r50 < seen) {
        Q[0] = estimate(w[j] | 0, gamma);
        break;
      }
    }
  }
  // From the top: rank r is the (n − 1 − r)th value counted down from the highest.
  const t99 = n - 1 - Math.floor(0.99 * (n - 1));
  const t90 = n - 1 - Math.floor(0.9 * (n - 1));
  Q[1] = Q[2] = 0;
  let above = 0;
  let k = 2;
  for (let j = to - 2; j >= from && k > 0; j -= 2) {
    above += w[j + 1];
    if (k === 2 && t99 < above) {
      Q[2] = estimate(w[j] | 0, gamma);
      k = 1;
    }
    if (k === 1 && t90 < above) {
      Q[1] = estimate(w[j] | 0, gamma);
      k = 0;
    }
  }
}

/** The same for an interval's merge: counts in a dense array, bucket i at position i − low. */
function denseQuantiles(n: number, gamma: number, max: number, zero: number, dense: Float64Array, low: number): void {
  if (n === 0) return void Q.fill(NaN);
  const r50 = Math.floor(0.5 * (n - 1));
  Q[0] = max;
  if (r50 < zero) Q[0] = 0;
  else {
    let seen = zero;
    for (let i = 0; i < dense.length; i++) {
      const c = dense[i];
      if (c === 0) continue;
      seen += c;
      if (r50 < seen) {
        Q[0] = estimate(i + low, gamma);
        break;
      }
    }
  }
  const t99 = n - 1 - Math.floor(0.99 * (n - 1));
  const t90 = n - 1 - Math.floor(0.9 * (n - 1));
  Q[1] = Q[2] = 0;
  let above = 0;
  let k = 2;
  for (let i = dense.length - 1; i >= 0 && k > 0; i--) {
    const c = dense[i];
    if (c === 0) continue;
    above += c;
    if (k === 2 && t99 < above) {
      Q[2] = estimate(i + low, gamma);
      k = 1;
    }
    if (k === 1 && t90 < above) {
      Q[1] = estimate(i + low, gamma);
      k = 0;
    }
  }
}

/** Q as the row's three quantiles (null when there were no values). */
function q(i: number): number | null {
  return Number.isNaN(Q[i]) ? null : Q[i];
}

/**
 * The buckets of the sketch being read, as 32-bit words (index, count, index, count, …): each sketch's bytes are
 * copied here before they are read (a decoded binary is a view into its frame, at any offset; one copy into one
 * reused buffer costs less than making a typed array for each of a tick's thousands of sketches).
 * The words are little-endian, as the node writes them and as every host Node.js runs on reads them.
 */
let W = new Uint32Array(1024);
let W8 = new Uint8Array(W.buffer);

/** A sketch's buckets into W: [from, to) are its buckets' words, after its zero bucket (counted in `zero`). */
function load(bins: Uint8Array): { zero: number; from: number; to: number } {
  const n = bins.byteLength >> 2;
  if (W.length < n) {
    W = new Uint32Array(Math.max(n, W.length * 2));
    W8 = new Uint8Array(W.buffer);
  }
  W8.set(n * 4 === bins.byteLength ? bins : bins.subarray(0, n * 4));
  const to = n & ~1;
  return to >= 2 && (W[0] | 0) === ZERO_INDEX ? { zero: W[1], from: 2, to } : { zero: 0, from: 0, to };
}

/** The quantiles of one shipped sketch. */
export function sketchQuantiles(s: ShippedSketch, alpha: number): (number | null)[] {
  const { zero, from, to } = load(s.bins);
  sparseQuantiles(s.count, (1 + alpha) / (1 - alpha), s.max_us, zero, from, to);
  return [q(0), q(1), q(2)];
}

/** An interval's merge for one function: counts bucket by bucket in a dense array that grows to fit. */
class MergedFunction {
  private counts = new Float64Array(0);
  private low = 0;
  zero = 0;
  count = 0;
  calls = 0;
  errors = 0;
  sum = 0;
  max = -Infinity;

  /** `s`, its buckets at W[from, to). */
  add(s: ShippedSketch, zero: number, from: number, to: number): void {
    this.count += s.count;
    this.calls += s.calls ?? s.count;
    this.errors += s.errors;
    this.sum += s.sum_us;
    if (s.max_us > this.max) this.max = s.max_us;
    this.zero += zero;
    if (to - from < 2) return;
    const w = W;
    this.fit(w[from] | 0, w[to - 2] | 0);
    const counts = this.counts;
    const low = this.low;
    for (let k = from; k < to; k += 2) counts[(w[k] | 0) - low] += w[k + 1];
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

  /** Into Q. */
  quantiles(gamma: number): void {
    denseQuantiles(this.count, gamma, this.max, this.zero, this.counts, this.low);
  }
}

/**
 * Each node's rows, kept as columns (a 200-node cluster adds 4,000 a tick, for as long as the probe runs: as
 * objects they would be most of what the garbage collector walks); made into rows when the table is asked for.
 * The quantiles are taken from Q.
 */
class NodeRows {
  private readonly nodes: string[] = [];
  private readonly nodeIndex = new Map<string, number>();
  private readonly fns: string[] = [];
  private readonly fnIndex = new Map<string, number>();
  private node = new Int32Array(1024);
  private fn = new Int32Array(1024);
  /** time, count, errors, p50, p90, p99, max, mean, sampled: row i at [9i, 9i + 9) (NaN for none). */
  private values = new Float64Array(9 * 1024);
  length = 0;

  push(time: number, node: string, fn: string, count: number, errors: number, max: number, mean: number, sampled: number): void {
    const i = this.length++;
    if (i === this.node.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T, n: number): T => {
        const b = new (a.constructor as new (n: number) => T)(n);
        b.set(a);
        return b;
      };
      this.node = grow(this.node, 2 * i);
      this.fn = grow(this.fn, 2 * i);
      this.values = grow(this.values, 18 * i);
    }
    this.node[i] = this.indexOf(node, this.nodes, this.nodeIndex);
    this.fn[i] = this.indexOf(fn, this.fns, this.fnIndex);
    const v = this.values;
    const o = 9 * i;
    v[o] = time;
    v[o + 1] = count;
    v[o + 2] = errors;
    v[o + 3] = Q[0];
    v[o + 4] = Q[1];
    v[o + 5] = Q[2];
    v[o + 6] = max;
    v[o + 7] = mean;
    v[o + 8] = sampled;
  }

  private indexOf(s: string, list: string[], index: Map<string, number>): number {
    let k = index.get(s);
    if (k === undefined) {
      index.set(s, (k = list.length));
      list.push(s);
    }
    return k;
  }

  rows(): SummaryRow[] {
    const v = this.values;
    const orNull = (x: number) => (Number.isNaN(x) ? null : x);
    return Array.from({ length: this.length }, (_, i) => {
      const o = 9 * i;
      return { time_us: v[o], node: this.nodes[this.node[i]], function: this.fns[this.fn[i]], count: v[o + 1], sampled: orNull(v[o + 8]), errors: v[o + 2], p50_us: orNull(v[o + 3]), p90_us: orNull(v[o + 4]), p99_us: orNull(v[o + 5]), max_us: orNull(v[o + 6]), mean_us: orNull(v[o + 7]) };
    });
  }
}

/**
 * The summary of one probe (on one node, or across the nodes of a `--nodes` probe): every node's rows as its
 * sketches arrive, and each interval's merge over the nodes.
 */
export class SummaryMerge {
  private readonly nodeRows = new NodeRows();
  /** at_us → function → its merge. */
  private readonly intervals = new Map<number, Map<string, MergedFunction>>();
  /** The merged rows of intervals already read (an interval's merge is read once every node has passed it). */
  private readonly mergedRows = new Map<number, SummaryRow[]>();
  private readonly lastAt = new Map<string, number>();
  /** The earliest of lastAt, and how many nodes are there: the merge of an interval before it is complete. */
  private done = -Infinity;
  private atDone = 0;
  /** `Mod.fun/arity` by module, then function, then arity, made once (every interval of every node names them again). */
  private readonly names = new Map<string, Map<string, string[]>>();
  alpha = 0.01;
  everyMs = 1000;
  /** What the nodes shipped: bytes, and function-intervals (one function's sketch for one interval). */
  shipped = { bytes: 0, sketches: 0, events: 0 };

  constructor(private readonly mergeNodes: boolean) {}

  /** Sketches from a node: its rows now, its buckets into the interval's merge. */
  add(e: SketchesEvent): void {
    this.alpha = e.alpha;
    this.everyMs = e.every_ms;
    const before = this.lastAt.get(e.node);
    const now = Math.max(before ?? 0, e.at_us);
    this.lastAt.set(e.node, now);
    this.shipped.bytes += e.bytes ?? 0;
    this.shipped.sketches += e.sketches.length;
    this.shipped.events++;
    const merged = this.mergeNodes ? (this.intervals.get(e.at_us) ?? this.intervals.set(e.at_us, new Map()).get(e.at_us)!) : null;
    const gamma = (1 + e.alpha) / (1 - e.alpha);
    for (const s of e.sketches) {
      const fn = this.nameOf(s);
      const { zero, from, to } = load(s.bins);
      sparseQuantiles(s.count, gamma, s.max_us, zero, from, to);
      const calls = s.calls ?? s.count;
      this.nodeRows.push(e.at_us, e.node, fn, calls, s.errors, s.count ? s.max_us : NaN, s.count ? s.sum_us / s.count : NaN, share(s.count, calls));
      if (merged) {
        let m = merged.get(fn);
        if (!m) merged.set(fn, (m = new MergedFunction()));
        m.add(s, zero, from, to);
      }
    }
    // Intervals every node has passed are read now and their buckets let go.
    if (merged && this.passed(before, now)) for (const at of [...this.intervals.keys()]) if (at < this.done) this.close(at);
  }

  /**
   * Keep `done` (the earliest interval end every node has reached) after a node moved from `before` to `now`;
   * true when it moved. Scans the nodes only when the last node at the earliest end moves on: once a tick, not
   * once an event (200 nodes' events would otherwise cost 200 × 200 reads).
   */
  private passed(before: number | undefined, now: number): boolean {
    if (before === undefined) {
      // A new node: it may be the earliest.
      if (this.lastAt.size === 1 || now < this.done) [this.done, this.atDone] = [now, 1];
      else if (now === this.done) this.atDone++;
      return false;
    }
    if (before !== this.done || now === before) return false;
    if (--this.atDone > 0) return false;
    let low = Infinity;
    let at = 0;
    for (const t of this.lastAt.values()) {
      if (t < low) [low, at] = [t, 1];
      else if (t === low) at++;
    }
    [this.done, this.atDone] = [low, at];
    return true;
  }

  private nameOf(s: ShippedSketch): string {
    let byFun = this.names.get(s.module);
    if (!byFun) this.names.set(s.module, (byFun = new Map()));
    let byArity = byFun.get(s.function);
    if (!byArity) byFun.set(s.function, (byArity = []));
    return (byArity[s.arity] ??= functionName(s.module, s.function, s.arity));
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
      m.quantiles(gamma);
      const [p50, p90, p99] = [q(0), q(1), q(2)];
      const sampled = share(m.count, m.calls);
      return { time_us: at, node: "all", function: fn, count: m.calls, sampled: Number.isNaN(sampled) ? null : sampled, errors: m.errors, p50_us: p50, p90_us: p90, p99_us: p99, max_us: m.count ? m.max : null, mean_us: m.count ? m.sum / m.count : null };
    });
  }

  /** Every row so far, oldest interval first: each node's rows, then the interval's merged row (`node: "all"`). */
  rows(): SummaryRow[] {
    const merged = new Map(this.mergedRows);
    for (const [at, fns] of this.intervals) merged.set(at, this.readMerged(at, fns));
    const out: SummaryRow[] = [];
    const byTime = new Map<number, SummaryRow[]>();
    for (const r of this.nodeRows.rows()) (byTime.get(r.time_us) ?? byTime.set(r.time_us, []).get(r.time_us)!).push(r);
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
 * of many nodes (the tests and the benchmark feed these to SummaryMerge), without a node. `calls`: the exact
 * calls it stands for, when only a share of them (`values`) fed it.
 */
export function shipSketch(values: readonly number[], alpha: number, fn = { module: "sim", function: "work", arity: 1 }, errors = 0, calls?: number): ShippedSketch {
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
  return { ...fn, ...(calls !== undefined ? { calls } : {}), count: values.length, errors, sum_us: sum, min_us: min, max_us: max, bins: bytes };
}

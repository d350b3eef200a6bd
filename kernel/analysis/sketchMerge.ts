/**
 * The kernel's side of `%probe MFA --summary`: each node ships, per interval, one latency sketch per function
 * (elixir_agent/src/lumin_sketch.erl: log-bucketed, relative error `alpha`), all of an interval's packed into one
 * binary (packedSketches.ts), and this file turns them into the rows of the `summary` table — one per node,
 * function and interval, and one per function and interval merged over every node (`node: "all"`). Quantiles
 * are read as the node reads them (rankWalk.ts); merging adds counts bucket by bucket, so the merged quantiles
 * carry the same bound.
 *
 * Cost (a 200-node × 20-function cluster sends 4,000 sketches a tick, bench section `cluster`): each function's
 * buckets are read from the packed binary once, in one pass that adds each bucket into the interval's dense
 * array for that function and steps the node's quantile walk (no term, object or typed array per sketch or
 * bucket; nothing done for an empty bucket); the same walk reads an interval's merge, once every node has passed
 * it (found without scanning every node on every event). A node's row is kept as columns; its function names
 * are read only when they differ, byte for byte, from the ones it sent last. Nothing keeps a node's buckets
 * after they are merged. Rows become objects only when the table is asked for.
 */
import { PackedReader, readNames, packSketches, type FunctionSketch } from "./packedSketches";
import { RankWalk } from "./rankWalk";

/** A node's `probe_sketches` event: every function called in the interval that ended at `at_us`. */
export interface SketchesEvent {
  name: string;
  node: string;
  at_us: number;
  every_ms: number;
  alpha: number;
  /** The interval's sketches, packed (packedSketches.ts). */
  sketches: Uint8Array;
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

/** A function as users write it: `Shop.Orders.place/2` on Elixir modules, `checkout:place/1` on Erlang ones. */
export function functionName(module: string, fun: string, arity: number): string {
  return module.startsWith("Elixir.") ? `${module.slice(7)}.${fun}/${arity}` : `${module}:${fun}/${arity}`;
}

/** The share of `calls` that fed a sketch of `fed` values: at most 1 (a call made in one interval may complete in the next); NaN without calls. */
function share(fed: number, calls: number): number {
  return calls > 0 ? Math.min(1, fed / calls) : fed > 0 ? 1 : NaN;
}

/** One walk for every quantile read (nothing is allocated per row): a node's sketch's, then a merge's. */
const walk = new RankWalk();

/** One reader for every binary. */
const reader = new PackedReader();

/** The quantiles of each function's sketch in one packed binary, in order. */
export function packedQuantiles(packed: Uint8Array, alpha: number): (number | null)[][] {
  reader.open(packed);
  const out: (number | null)[][] = [];
  for (let f = 0; f < reader.functions; f++) {
    reader.next();
    walk.start(reader.count, reader.zero, reader.max, alpha);
    reader.buckets(null, 0, walk);
    out.push([walk.at(0), walk.at(1), walk.at(2)]);
  }
  return out;
}

/** The quantiles of one function's sketch. */
export function sketchQuantiles(s: FunctionSketch, alpha: number): (number | null)[] {
  return packedQuantiles(packSketches([s]), alpha)[0];
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

  /** The function the reader has just read: its figures, and its buckets as they are read (walked by `w`). */
  add(r: PackedReader, w: RankWalk): void {
    this.count += r.count;
    this.calls += r.calls;
    this.errors += r.errors;
    this.sum += r.sum;
    if (r.max > this.max) this.max = r.max;
    this.zero += r.zero;
    if (r.span > 0) this.fit(r.first, r.first + r.span - 1);
    r.buckets(this.counts, r.first - this.low, w);
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

  /** Its quantiles, into `w`. */
  quantiles(w: RankWalk, alpha: number): void {
    w.start(this.count, this.zero, this.max, alpha);
    const counts = this.counts;
    for (let i = 0; i < counts.length && !w.done; i++) if (counts[i] !== 0) w.step(this.low + i, counts[i]);
  }
}

/**
 * Each node's rows, kept as columns (a 200-node cluster adds 4,000 a tick, for as long as the probe runs: as
 * objects they would be most of what the garbage collector walks); made into rows when the table is asked for.
 * Nodes and functions are kept as indexes into the merge's lists. The quantiles are taken from the walk.
 */
class NodeRows {
  private node = new Int32Array(1024);
  private fn = new Int32Array(1024);
  /** time, count, errors, p50, p90, p99, max, mean, sampled: row i at [9i, 9i + 9) (NaN for none). */
  private values = new Float64Array(9 * 1024);
  length = 0;

  push(time: number, node: number, fn: number, count: number, errors: number, max: number, mean: number, sampled: number, q: Float64Array): void {
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
    this.node[i] = node;
    this.fn[i] = fn;
    const v = this.values;
    const o = 9 * i;
    v[o] = time;
    v[o + 1] = count;
    v[o + 2] = errors;
    v[o + 3] = q[0];
    v[o + 4] = q[1];
    v[o + 5] = q[2];
    v[o + 6] = max;
    v[o + 7] = mean;
    v[o + 8] = sampled;
  }

  rows(nodes: readonly string[], fns: readonly string[]): SummaryRow[] {
    const v = this.values;
    const orNull = (x: number) => (Number.isNaN(x) ? null : x);
    return Array.from({ length: this.length }, (_, i) => {
      const o = 9 * i;
      return { time_us: v[o], node: nodes[this.node[i]], function: fns[this.fn[i]], count: v[o + 1], sampled: orNull(v[o + 8]), errors: v[o + 2], p50_us: orNull(v[o + 3]), p90_us: orNull(v[o + 4]), p99_us: orNull(v[o + 5]), max_us: orNull(v[o + 6]), mean_us: orNull(v[o + 7]) };
    });
  }
}

/** What the merge knows of a node: its index, the time it has reached, and the functions it named last. */
interface NodeState {
  index: number;
  lastAt: number;
  /** The names section it sent last (a copy) and each function's index in `fns`, in its order. */
  names: Uint8Array;
  fns: number[];
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * The summary of one probe (on one node, or across the nodes of a `--nodes` probe): every node's rows as its
 * sketches arrive, and each interval's merge over the nodes.
 */
export class SummaryMerge {
  private readonly nodeRows = new NodeRows();
  private readonly nodes: string[] = [];
  private readonly nodeState = new Map<string, NodeState>();
  /** Every function seen, as users write it, and its index. */
  private readonly fns: string[] = [];
  private readonly fnIndex = new Map<string, number>();
  /** at_us → function index → its merge. */
  private readonly intervals = new Map<number, Map<number, MergedFunction>>();
  /** The merged rows of intervals already read (an interval's merge is read once every node has passed it). */
  private readonly mergedRows = new Map<number, SummaryRow[]>();
  /** The earliest time every node has reached, and how many nodes are there: the merge of an interval before it is complete. */
  private done = -Infinity;
  private atDone = 0;
  alpha = 0.01;
  everyMs = 1000;
  /** What the nodes shipped: bytes, and function-intervals (one function's sketch for one interval). */
  shipped = { bytes: 0, sketches: 0, events: 0 };
  /** Events whose sketches could not be read, and the last reason. */
  unreadable = { events: 0, reason: "" };

  constructor(private readonly mergeNodes: boolean) {}

  /**
   * Sketches from a node: its rows now, its buckets into the interval's merge. A binary that cannot be read is
   * counted in `unreadable`, with why, and the probe goes on: one of another version (an agent from another
   * kernel) before anything of it is read; one damaged past its names (never seen from a node) where the damage is.
   */
  add(e: SketchesEvent): void {
    try {
      this.read(e);
    } catch (err) {
      this.unreadable.events++;
      this.unreadable.reason = (err as Error).message;
    }
  }

  private read(e: SketchesEvent): void {
    const r = reader;
    r.open(e.sketches);
    let node = this.nodeState.get(e.node);
    const fns = this.functionsOf(node, r.names);
    if (fns.length !== r.functions) throw new Error(`a summary's packed sketches name ${fns.length} functions and hold ${r.functions}: the binary is damaged`);
    this.alpha = e.alpha;
    this.everyMs = e.every_ms;
    const before = node?.lastAt;
    const now = Math.max(before ?? 0, e.at_us);
    if (!node) {
      node = { index: this.nodes.length, lastAt: now, names: r.names.slice(), fns };
      this.nodes.push(e.node);
      this.nodeState.set(e.node, node);
    } else if (node.fns !== fns) [node.names, node.fns] = [r.names.slice(), fns];
    node.lastAt = now;
    this.shipped.bytes += e.bytes ?? 0;
    this.shipped.sketches += r.functions;
    this.shipped.events++;
    const merged = this.mergeNodes ? (this.intervals.get(e.at_us) ?? this.intervals.set(e.at_us, new Map()).get(e.at_us)!) : null;
    const w = walk;
    try {
      for (let f = 0; f < r.functions; f++) {
        r.next();
        const fn = fns[f];
        w.start(r.count, r.zero, r.max, e.alpha);
        if (merged) {
          let m = merged.get(fn);
          if (!m) merged.set(fn, (m = new MergedFunction()));
          m.add(r, w);
        } else r.buckets(null, 0, w);
        // count: the exact calls; errors, max and mean: of the calls that fed the sketch.
        this.nodeRows.push(e.at_us, node.index, fn, r.calls, r.errors, r.count ? r.max : NaN, r.count ? r.sum / r.count : NaN, share(r.count, r.calls), w.q);
      }
    } finally {
      // The node has moved on (even past a damaged binary): intervals every node has passed are read now and
      // their buckets let go.
      if (merged && this.passed(before, now)) for (const at of [...this.intervals.keys()]) if (at < this.done) this.close(at);
    }
  }

  /** The functions a node's names section names, as indexes into `fns`: read again only when its bytes changed. */
  private functionsOf(node: NodeState | undefined, names: Uint8Array): number[] {
    if (node && sameBytes(node.names, names)) return node.fns;
    return readNames(names).map((n) => {
      const name = functionName(n.module, n.function, n.arity);
      let k = this.fnIndex.get(name);
      if (k === undefined) {
        this.fnIndex.set(name, (k = this.fns.length));
        this.fns.push(name);
      }
      return k;
    });
  }

  /**
   * Keep `done` (the earliest interval end every node has reached) after a node moved from `before` to `now`;
   * true when it moved. Scans the nodes only when the last node at the earliest end moves on: once a tick, not
   * once an event (200 nodes' events would otherwise cost 200 × 200 reads).
   */
  private passed(before: number | undefined, now: number): boolean {
    if (before === undefined) {
      // A new node: it may be the earliest.
      if (this.nodeState.size === 1 || now < this.done) [this.done, this.atDone] = [now, 1];
      else if (now === this.done) this.atDone++;
      return false;
    }
    if (before !== this.done || now === before) return false;
    if (--this.atDone > 0) return false;
    let low = Infinity;
    let at = 0;
    for (const { lastAt: t } of this.nodeState.values()) {
      if (t < low) [low, at] = [t, 1];
      else if (t === low) at++;
    }
    [this.done, this.atDone] = [low, at];
    return true;
  }

  private close(at: number): void {
    const fns = this.intervals.get(at);
    if (!fns) return;
    this.intervals.delete(at);
    this.mergedRows.set(at, this.readMerged(at, fns));
  }

  private readMerged(at: number, fns: Map<number, MergedFunction>): SummaryRow[] {
    return [...fns].map(([fn, m]) => {
      m.quantiles(walk, this.alpha);
      const sampled = share(m.count, m.calls);
      return { time_us: at, node: "all", function: this.fns[fn], count: m.calls, sampled: Number.isNaN(sampled) ? null : sampled, errors: m.errors, p50_us: walk.at(0), p90_us: walk.at(1), p99_us: walk.at(2), max_us: m.count ? m.max : null, mean_us: m.count ? m.sum / m.count : null };
    });
  }

  /** Every row so far, oldest interval first: each node's rows, then the interval's merged row (`node: "all"`). */
  rows(): SummaryRow[] {
    const merged = new Map(this.mergedRows);
    for (const [at, fns] of this.intervals) merged.set(at, this.readMerged(at, fns));
    const out: SummaryRow[] = [];
    const byTime = new Map<number, SummaryRow[]>();
    for (const r of this.nodeRows.rows(this.nodes, this.fns)) (byTime.get(r.time_us) ?? byTime.set(r.time_us, []).get(r.time_us)!).push(r);
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

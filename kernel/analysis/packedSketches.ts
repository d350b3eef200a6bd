/**
 * One node's sketches of one interval, packed into one binary (the `sketches` field of a `probe_sketches` event;
 * elixir_agent/src/lumin_summary_wire.erl writes it and documents the layout): read here function by function,
 * each bucket added straight into the interval's merge and walked for the node's quantiles as it is read — no
 * term, object or typed array per function or per bucket — and written here too, for simulations of many nodes
 * and for events recorded before nodes packed their sketches.
 *
 * Layout, in short: version byte (1) · function count · names size · names (module, function as 16-bit-length
 * UTF-8, arity as a byte) · per function: calls · count · errors · zero bucket · sum, min, max (doubles) · first index
 * (zigzag) · span · the counts of buckets first … first + span − 1, a 0 followed by a run of empty buckets.
 * Integers are unsigned LEB128 varints; doubles little-endian. test/unit/packed-sketches.test.ts and the ExUnit
 * lumin_summary_wire_test pin the same bytes.
 */

import { RankWalk } from "./rankWalk";

export const PACKED_VERSION = 1;

/** Past this many bucket positions in one function's sketch the binary is refused as damaged (a node keeps at most 1,024 buckets; at 0.01% they may lie ~140,000 apart). */
const MAX_SPAN = 1 << 22;

/** One function's sketch of one interval as an object (simulations; events from before the packed layout). */
export interface FunctionSketch {
  module: string;
  function: string;
  arity: number;
  /** The function's exact calls in the interval (the VM's count); `count` of them fed the sketch. */
  calls: number;
  count: number;
  errors: number;
  sum_us: number;
  min_us: number;
  max_us: number;
  /** Values at or below 1 ns. */
  zero: number;
  /** Buckets in use, lowest index first: [index, count], count > 0. */
  buckets: readonly (readonly [number, number])[];
}

/** A function a packed binary names. */
export interface PackedName {
  module: string;
  function: string;
  arity: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Reads a packed binary: open() it, then for each function next() (its figures, into the fields) and buckets()
 * (its bucket counts, added into a dense array and walked for its quantiles in the same pass: no per-bucket or
 * per-sketch allocation, nothing written for an empty bucket).
 */
export class PackedReader {
  /** Functions in the binary, and the bytes of their names (compare them to skip reading the names again). */
  functions = 0;
  names: Uint8Array = new Uint8Array(0);
  /** The function's exact calls in the interval, and how many of them fed its sketch. */
  calls = 0;
  count = 0;
  errors = 0;
  zero = 0;
  sum = 0;
  min = 0;
  max = 0;
  /** The lowest bucket's index, and how many bucket positions from it to the highest (0: no bucket in use). */
  first = 0;
  span = 0;
  private b: Uint8Array = new Uint8Array(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private p = 0;
  private left = 0;
  /** The current function's buckets are not read yet. */
  private unread = false;
  private static readonly skip = new RankWalk();

  /** Start reading `b`; a binary of another version, or cut short, is refused with what to do. */
  open(b: Uint8Array): void {
    if (b.length < 3) throw new Error(`a summary's packed sketches are ${b.length} bytes, too short to read: the node's agent and this kernel disagree on the format; reconnect to load this kernel's agent`);
    if (b[0] !== PACKED_VERSION) throw new Error(`a summary's packed sketches are version ${b[0]}, and this kernel reads version ${PACKED_VERSION}: reconnect to load this kernel's agent on the node`);
    this.b = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.p = 1;
    this.functions = this.uv();
    const size = this.uv();
    this.names = b.subarray(this.p, this.p + size);
    this.p += size;
    this.left = this.functions;
    this.unread = false;
    this.check();
  }

  /** The next function's figures (see the fields); its buckets follow with buckets(). */
  next(): void {
    if (this.unread) this.buckets(null, 0, PackedReader.skip);
    if (this.left-- <= 0) throw new Error("a summary's packed sketches were read past their last function");
    this.calls = this.uv();
    this.count = this.uv();
    this.errors = this.uv();
    this.zero = this.uv();
    const p = this.p;
    if (p + 24 > this.b.length) this.truncated();
    const v = this.view;
    this.sum = v.getFloat64(p, true);
    this.min = v.getFloat64(p + 8, true);
    this.max = v.getFloat64(p + 16, true);
    this.p = p + 24;
    const z = this.uv();
    this.first = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    this.span = this.uv();
    if (this.span > MAX_SPAN) throw new Error(`a summary's sketch spans ${this.span} buckets, more than ${MAX_SPAN} any node keeps: the binary is damaged`);
    this.check();
    this.unread = true;
  }

  /**
   * The current function's buckets, lowest first: each bucket's count added into `into[at + k]` for bucket
   * `first + k` (none when `into` is null), and each bucket in use stepped through `walk` (started by the caller).
   */
  buckets(into: Float64Array | null, at: number, walk: RankWalk): void {
    this.unread = false;
    const span = this.span;
    const first = this.first;
    const b = this.b;
    const end = b.length;
    let p = this.p;
    // Most buckets are one byte; a 0 starts a run of empty buckets.
    for (let k = 0; k < span; ) {
      if (p >= end) this.truncated();
      let x = b[p++];
      if (x >= 128) {
        // A count of two bytes or more: read by uv() from where it started.
        this.p = p - 1;
        x = this.uv();
        p = this.p;
      }
      if (x !== 0) {
        if (into !== null) into[at + k] += x;
        walk.step(first + k, x);
        k++;
        continue;
      }
      let run = b[p++];
      if (run >= 128) {
        this.p = p - 1;
        run = this.uv();
        p = this.p;
      }
      if (!(run > 0) || k + run > span) throw new Error("a summary's packed sketches hold a run of empty buckets past the sketch's span: the binary is damaged");
      k += run;
    }
    this.p = p;
    this.check();
  }

  private uv(): number {
    const b = this.b;
    let x = b[this.p++];
    if (x < 128) return x;
    x &= 127;
    let m = 128;
    let y;
    do {
      y = b[this.p++];
      x += (y & 127) * m;
      m *= 128;
    } while (y >= 128);
    return x;
  }

  private check(): void {
    if (this.p > this.b.length) this.truncated();
  }

  private truncated(): never {
    throw new Error(`a summary's packed sketches end early (${this.b.length} bytes): the binary is damaged`);
  }
}

/** The functions a packed binary's names section names, in order. */
export function readNames(names: Uint8Array): PackedName[] {
  const out: PackedName[] = [];
  const v = new DataView(names.buffer, names.byteOffset, names.byteLength);
  let p = 0;
  while (p < names.length) {
    const ml = v.getUint16(p, true);
    const module = utf8.decode(names.subarray(p + 2, p + 2 + ml));
    p += 2 + ml;
    const fl = v.getUint16(p, true);
    const fun = utf8.decode(names.subarray(p + 2, p + 2 + fl));
    p += 2 + fl;
    out.push({ module, function: fun, arity: names[p++] });
  }
  return out;
}

/** Functions' sketches packed as a node packs them (lumin_summary_wire:pack/1). */
export function packSketches(fns: readonly FunctionSketch[]): Uint8Array {
  const out: number[] = [PACKED_VERSION];
  const names: number[] = [];
  const text = (s: string) => {
    const b = Buffer.from(s, "utf8");
    names.push(b.length & 255, b.length >> 8, ...b);
  };
  for (const f of fns) {
    text(f.module);
    text(f.function);
    names.push(f.arity & 255);
  }
  uv(out, fns.length);
  uv(out, names.length);
  out.push(...names);
  const d = new DataView(new ArrayBuffer(24));
  for (const f of fns) {
    uv(out, f.calls);
    uv(out, f.count);
    uv(out, f.errors);
    uv(out, f.zero);
    d.setFloat64(0, f.sum_us, true);
    d.setFloat64(8, f.min_us, true);
    d.setFloat64(16, f.max_us, true);
    out.push(...new Uint8Array(d.buffer));
    const bs = f.buckets;
    const first = bs.length ? bs[0][0] : 0;
    uv(out, first >= 0 ? 2 * first : -2 * first - 1);
    uv(out, bs.length ? bs[bs.length - 1][0] - first + 1 : 0);
    let prev = first - 1;
    for (const [i, c] of bs) {
      if (i > prev + 1) {
        out.push(0);
        uv(out, i - prev - 1);
      }
      uv(out, c);
      prev = i;
    }
  }
  return Uint8Array.from(out);
}

function uv(out: number[], n: number): void {
  while (n >= 128) {
    out.push(128 | n % 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

/** A packed binary read back as objects, buckets and all (for people: a recording's readable copy, tests). */
export function unpackSketches(b: Uint8Array): FunctionSketch[] {
  const r = new PackedReader();
  const w = new RankWalk();
  r.open(b);
  return readNames(r.names).map((n) => {
    r.next();
    const dense = new Float64Array(r.span);
    w.start(r.count, r.zero, r.max, 0.01);
    r.buckets(dense, 0, w);
    const buckets: [number, number][] = [];
    dense.forEach((c, k) => c && buckets.push([r.first + k, c]));
    return { ...n, calls: r.calls, count: r.count, errors: r.errors, sum_us: r.sum, min_us: r.min, max_us: r.max, zero: r.zero, buckets };
  });
}

/**
 * A probe's rows as they arrive: each decoded batch is appended to one growing set of columns, stored as
 * compactly as their content allows — integers and dictionary indexes in the narrowest typed array that
 * holds them so far (widened when a batch needs more), term bytes copied out of the frames they came in
 * (so the frames can go), a column that is null or one value throughout kept constant.
 *
 * Appending costs what the batch holds, whatever came before it; `columns()` hands out views, so a table
 * can be made at any moment without copying, and later batches never change a table made earlier (they
 * write past its end, or into new arrays when one grows).
 */
import type { DecodedBatch, RawColumn } from "../beam/batchDecoder";
import type { Syntax } from "../beam/termFormat";
import { ConstColumn, DictColumn, TermColumn } from "./columns";

type IntArray = Int8Array | Int16Array | Int32Array;
type IndexArray = Uint8Array | Uint16Array | Uint32Array;
export type ArqueroColumn = Float64Array | IntArray | DictColumn | TermColumn | ConstColumn<unknown>;

type Growable = Float64Array | IntArray | IndexArray;
type Ctor<T> = { new (n: number): T; BYTES_PER_ELEMENT: number };

/** Up to this many bytes, a column takes all the room it may need at once (see ensure). */
const ALL_AT_ONCE_BYTES = 8 << 20;

/**
 * `a` if it is a `Make` with room for `needed` elements, else a new one holding its first `used`: twice as
 * long (so appends cost amortized constant time), but no longer than `max` elements unless `needed` is.
 * When `max` elements fit in ALL_AT_ONCE_BYTES, it takes them at once: the system maps a new array's pages
 * only as they are written, so the room costs nothing until used, and growing step by step would cost
 * copies and fresh pages for each step.
 */
function ensure<T extends Growable>(a: Growable, used: number, needed: number, Make: Ctor<T>, max = Infinity): T {
  if (a instanceof Make && needed <= a.length) return a as T;
  const atOnce = max * Make.BYTES_PER_ELEMENT <= ALL_AT_ONCE_BYTES;
  const b = new Make(Math.max(needed, atOnce ? max : Math.min(Math.max(a.length * 2, 1024), max)));
  b.set(a.subarray(0, used));
  return b;
}

/** `a` cut to `n` elements, when the room past them is worth a copy (more than an eighth of it). */
const exact = <T extends Growable>(a: T, n: number): T => (a.length - n > n / 8 ? (a.slice(0, n) as T) : a);

/** The narrowest of `kinds` whose elements hold `size` bytes at least. */
const atLeast = <T>(kinds: Ctor<T>[], bytes: number): Ctor<T> => kinds.find((k) => k.BYTES_PER_ELEMENT >= bytes) ?? kinds[kinds.length - 1];

/** One column: constant until a batch brings values of a kind, then that kind's growing store. */
interface ColumnStore {
  /** Append `rows` rows from `part` (undefined: the batch has no such column; its rows are null). */
  append(part: RawColumn | undefined, rows: number, at: number): void;
  column(count: number): ArqueroColumn;
  trim(count: number): void;
}

/** What a missing or constant part puts in a row: its value, or null. */
const constValue = (part: RawColumn | undefined): unknown => (part?.type === "const" ? part.value : null);

class FloatStore implements ColumnStore {
  private data = new Float64Array(0);
  constructor(private readonly maxRows: number) {}
  append(part: RawColumn | undefined, rows: number, at: number): void {
    this.data = ensure(this.data, at, at + rows, Float64Array, this.maxRows);
    if (part?.type === "f64") this.data.set(part.data, at);
    else this.data.fill(Number(constValue(part) ?? 0), at, at + rows);
  }
  column(count: number): ArqueroColumn {
    return this.data.subarray(0, count);
  }
  trim(count: number): void {
    this.data = exact(this.data, count);
  }
}

class IntStore implements ColumnStore {
  private data: IntArray = new Int8Array(0);
  constructor(private readonly maxRows: number) {}
  append(part: RawColumn | undefined, rows: number, at: number): void {
    const src = part?.type === "i32" ? part.data : undefined;
    const fill = src ? 0 : Number(constValue(part) ?? 0) | 0;
    let lo = fill;
    let hi = fill;
    if (src)
      for (const v of src) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    const needs = lo >= -128 && hi <= 127 ? 1 : lo >= -32768 && hi <= 32767 ? 2 : 4;
    // Widened (never narrowed) to hold this batch.
    this.data = ensure(this.data, at, at + rows, atLeast<IntArray>([Int8Array, Int16Array, Int32Array], Math.max(needs, this.data.BYTES_PER_ELEMENT)), this.maxRows);
    if (src) this.data.set(src, at);
    else this.data.fill(fill, at, at + rows);
  }
  column(count: number): ArqueroColumn {
    return this.data.subarray(0, count);
  }
  trim(count: number): void {
    this.data = exact(this.data, count);
  }
}

class DictStore implements ColumnStore {
  private readonly values: unknown[] = [];
  private readonly ids = new Map<unknown, number>();
  private indexes: IndexArray = new Uint8Array(0);
  constructor(private readonly maxRows: number) {}

  private idOf(v: unknown): number {
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.values.push(v) - 1;
      this.ids.set(v, id);
    }
    return id;
  }

  append(part: RawColumn | undefined, rows: number, at: number): void {
    const remap = part?.type === "dict" ? part.values.map((v) => this.idOf(v)) : [this.idOf(constValue(part))];
    const n = this.values.length;
    const idx = (this.indexes = ensure(this.indexes, at, at + rows, atLeast<IndexArray>([Uint8Array, Uint16Array, Uint32Array], n <= 256 ? 1 : n <= 65536 ? 2 : 4), this.maxRows));
    if (part?.type === "dict") for (let r = 0; r < rows; r++) idx[at + r] = remap[part.indexes[r]];
    else idx.fill(remap[0], at, at + rows);
  }
  column(count: number): ArqueroColumn {
    if (this.values.length <= 1) return new ConstColumn(this.values[0] ?? null, count);
    return new DictColumn(this.values, this.indexes.subarray(0, count));
  }
  trim(count: number): void {
    this.indexes = exact(this.indexes, count);
  }
}

class TermStore implements ColumnStore {
  /** count + 1 offsets; an empty slice is null. */
  private offsets = new Uint32Array(1);
  private data = new Uint8Array(0);
  private bytes = 0;
  constructor(
    private readonly syntax: Syntax,
    private readonly maxRows: number,
  ) {}

  append(part: RawColumn | undefined, rows: number, at: number): void {
    this.offsets = ensure(this.offsets, at + 1, at + rows + 1, Uint32Array, this.maxRows + 1);
    if (part?.type === "terms") {
      const needed = this.bytes + part.data.length;
      // Room for as many rows as may still come, at the bytes per row seen so far.
      this.data = ensure(this.data, this.bytes, needed, Uint8Array, Math.ceil((needed / (at + rows)) * this.maxRows));
      this.data.set(part.data, this.bytes);
      for (let r = 0; r < rows; r++) this.offsets[at + r + 1] = this.bytes + part.offsets[r + 1];
      this.bytes = needed;
    } else this.offsets.fill(this.bytes, at + 1, at + rows + 1);
  }
  column(count: number): ArqueroColumn {
    if (this.bytes === 0) return new ConstColumn(null, count);
    return new TermColumn(this.offsets.subarray(0, count + 1), this.data.subarray(0, this.bytes), this.syntax);
  }
  trim(count: number): void {
    this.offsets = exact(this.offsets, count + 1);
    this.data = exact(this.data, this.bytes);
  }
}

function storeFor(kind: RawColumn["type"], syntax: Syntax, maxRows: number): ColumnStore {
  switch (kind) {
    case "f64": return new FloatStore(maxRows);
    case "i32": return new IntStore(maxRows);
    case "terms": return new TermStore(syntax, maxRows);
    default: return new DictStore(maxRows);
  }
}

/** A column whose kind is not known yet: constant (null, or one value) until a batch brings a kind. */
class PendingColumn {
  private store: ColumnStore | undefined;
  private value: unknown = null;
  private same = true;

  constructor(
    private readonly syntax: Syntax,
    private readonly maxRows: number,
  ) {}

  append(part: RawColumn | undefined, rows: number, at: number): void {
    if (!this.store) {
      const v = constValue(part);
      if (!part || part.type === "const") {
        if (at === 0) this.value = v;
        else if (v !== this.value) this.same = false;
        if (this.same) return;
      }
      // Rows so far were constant: the new store gets them back as its first rows.
      this.store = storeFor(part && part.type !== "const" ? part.type : "dict", this.syntax, this.maxRows);
      if (at > 0) this.store.append({ type: "const", value: this.value }, at, 0);
    }
    this.store.append(part, rows, at);
  }
  column(count: number): ArqueroColumn {
    return this.store ? this.store.column(count) : new ConstColumn(this.value, count);
  }
  trim(count: number): void {
    this.store?.trim(count);
  }
}

export class TableBuilder {
  private readonly stores = new Map<string, PendingColumn>();
  private rows = 0;

  /**
   * `maxRows`: the most rows there can be (a probe's count budget), if known: arrays grow no larger, so a
   * probe that reaches its budget ends with columns of exactly its rows and nothing to give back.
   */
  constructor(
    readonly names: readonly string[],
    syntax: Syntax,
    maxRows = Infinity,
  ) {
    for (const name of names) this.stores.set(name, new PendingColumn(syntax, maxRows));
  }

  get count(): number {
    return this.rows;
  }

  append(batch: DecodedBatch): void {
    if (batch.count === 0) return;
    for (const [name, store] of this.stores) store.append(batch.columns.get(name), batch.count, this.rows);
    this.rows += batch.count;
  }

  /** The columns as they are now, by name (views: no copy). */
  columns(): Record<string, ArqueroColumn> {
    const out: Record<string, ArqueroColumn> = {};
    for (const [name, store] of this.stores) out[name] = store.column(this.rows);
    return out;
  }

  /** Give back the room kept for more rows (once no more will come). */
  trim(): void {
    for (const store of this.stores.values()) store.trim(this.rows);
  }
}

/** Batches as one set of columns (a snapshot's single batch, say). */
export function mergeColumns(batches: DecodedBatch[], names: string[], syntax: Syntax): Record<string, ArqueroColumn> {
  const b = new TableBuilder(names, syntax);
  for (const batch of batches) b.append(batch);
  b.trim();
  return b.columns();
}

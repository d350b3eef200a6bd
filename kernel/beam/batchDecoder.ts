/**
 * Columnar batches (kernel/beam/protocol.ts) → Arquero columns. Numbers become typed arrays, dictionaries
 * stay dictionaries, terms stay bytes: a million rows cost a few typed arrays, not a million objects.
 */
import { Atom, decode, ErlFloat, ErlMap, List, Pid, Port, Ref, Tuple, type ErlTerm } from "./etf";
import { formatTerm, type Syntax } from "./termFormat";
import { ConstColumn, DictColumn, TermColumn } from "../tables/columns";

export type RawColumn =
  | { type: "f64"; data: Float64Array }
  | { type: "i32"; data: Int8Array | Int16Array | Int32Array }
  | { type: "dict"; values: unknown[]; indexes: Uint8Array | Uint16Array | Uint32Array }
  | { type: "terms"; offsets: Uint32Array; data: Uint8Array }
  | { type: "const"; value: unknown };

export interface DecodedBatch {
  kind: string;
  count: number;
  dropped: number;
  columns: Map<string, RawColumn>;
}

/** Copy little-endian numbers into an aligned typed array (the batch's bytes may sit at any offset). */
function typed<T extends Float64Array | Int32Array | Uint32Array>(ctor: { new (b: ArrayBuffer): T }, bytes: Uint8Array): T {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new ctor(copy.buffer);
}

/** A dictionary or constant value as the table shows it: text, a number, a boolean, or null. */
export function plainValue(t: ErlTerm, column: string): unknown {
  if (t instanceof Atom) {
    if (t.name === "undefined" || t.name === "nil") return null;
    if (t.name === "true" || t.name === "false") return t.name === "true";
    return t.name.startsWith("Elixir.") ? t.name.slice(7) : t.name;
  }
  if (t instanceof Uint8Array) return new TextDecoder().decode(t);
  if (typeof t === "number") return t;
  if (t instanceof ErlFloat) return t.value;
  if (typeof t === "bigint") return Number(t);
  if (t instanceof Pid || t instanceof Port || t instanceof Ref) return formatTerm(t, "erlang");
  if (t instanceof List && t.elements.length === 0 && column) return null;
  return formatTerm(t, "erlang");
}

export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  const m = decode(bytes);
  if (!(m instanceof ErlMap)) throw new Error("a batch must be a map");
  const columns = new Map<string, RawColumn>();
  const cols = m.get("columns");
  if (cols instanceof ErlMap) {
    for (const [k, v] of cols.entries) {
      const name = (k as Atom).name;
      const [tag, a, b] = (v as Tuple).elements;
      switch ((tag as Atom).name) {
        case "f64": columns.set(name, { type: "f64", data: typed(Float64Array, a as Uint8Array) }); break;
        case "i32": columns.set(name, { type: "i32", data: typed(Int32Array, a as Uint8Array) }); break;
        case "dict": columns.set(name, { type: "dict", values: (a as List).elements.map((x) => plainValue(x, name)), indexes: typed(Uint32Array, b as Uint8Array) }); break;
        case "terms": columns.set(name, { type: "terms", offsets: typed(Uint32Array, a as Uint8Array), data: b as Uint8Array }); break;
        case "const": columns.set(name, { type: "const", value: plainValue(a, name) }); break;
        default: throw new Error(`unknown column encoding ${(tag as Atom).name} for ${name}`);
      }
    }
  }
  return {
    kind: (m.get("kind") as Atom).name,
    count: Number(m.get("count") ?? 0),
    dropped: Number(m.get("dropped") ?? 0),
    columns,
  };
}

type IntArray = Int8Array | Int16Array | Int32Array;
type IndexArray = Uint8Array | Uint16Array | Uint32Array;
export type ArqueroColumn = Float64Array | IntArray | DictColumn | TermColumn | ConstColumn<unknown>;

/** The smallest integer array that holds every value of `a` (arity and depth fit in a byte). */
function narrowInts(a: Int32Array): IntArray {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    else if (a[i] > hi) hi = a[i];
  }
  if (lo >= -128 && hi <= 127) return Int8Array.from(a);
  if (lo >= -32768 && hi <= 32767) return Int16Array.from(a);
  return a;
}

/** Dictionary indexes in as few bytes as the dictionary's size allows. */
function indexArray(size: number, length: number): IndexArray {
  return size <= 256 ? new Uint8Array(length) : size <= 65536 ? new Uint16Array(length) : new Uint32Array(length);
}

/**
 * Merged columns seen as one batch again, so a probe's table can be merged once and grown with later batches
 * (kernel/tables/probeStore.ts keeps only this, not every batch beside it).
 */
export function columnsAsBatch(columns: Record<string, ArqueroColumn>, count: number, kind: string): DecodedBatch {
  const raw = new Map<string, RawColumn>();
  for (const [name, c] of Object.entries(columns)) {
    if (c instanceof Float64Array) raw.set(name, { type: "f64", data: c });
    else if (c instanceof Int8Array || c instanceof Int16Array || c instanceof Int32Array) raw.set(name, { type: "i32", data: c });
    else if (c instanceof DictColumn) raw.set(name, { type: "dict", values: [...c.values], indexes: c.indexes });
    else if (c instanceof TermColumn) raw.set(name, { type: "terms", offsets: c.offsets, data: c.data });
    else raw.set(name, { type: "const", value: c.value });
  }
  return { kind, count, dropped: 0, columns: raw };
}

/**
 * One Arquero column per name, concatenating the batches in order, each stored as compactly as its content
 * allows: integers and dictionary indexes narrowed, a column that is null or one value throughout constant,
 * term bytes copied out of the frames they arrived in (so the frames can go).
 */
export function mergeColumns(batches: DecodedBatch[], names: string[], syntax: Syntax): Record<string, ArqueroColumn> {
  const total = batches.reduce((n, b) => n + b.count, 0);
  const out: Record<string, ArqueroColumn> = {};
  for (const name of names) {
    const parts = batches.map((b) => b.columns.get(name));
    // A column merged earlier may have become constant (all null so far); later batches decide its kind.
    const kind = (parts.find((p) => p && p.type !== "const") ?? parts.find((p) => p))?.type;
    if (!kind) {
      out[name] = new ConstColumn(null, total);
    } else if (kind === "f64" || kind === "i32") {
      const arr = kind === "f64" ? new Float64Array(total) : new Int32Array(total);
      let at = 0;
      batches.forEach((b, i) => {
        const p = parts[i];
        if (p?.type === kind) arr.set(p.data, at);
        at += b.count;
      });
      out[name] = arr instanceof Int32Array ? narrowInts(arr) : arr;
    } else if (kind === "terms") {
      const offsets = new Uint32Array(total + 1);
      const datas: Uint8Array[] = [];
      let row = 0;
      let base = 0;
      batches.forEach((b, i) => {
        const p = parts[i];
        if (p?.type === "terms") {
          for (let r = 0; r < b.count; r++) offsets[row + r + 1] = base + p.offsets[r + 1];
          datas.push(p.data);
          base += p.data.length;
        } else for (let r = 0; r < b.count; r++) offsets[row + r + 1] = base;
        row += b.count;
      });
      // No bytes at all: every row is null.
      out[name] = base === 0 ? new ConstColumn(null, total) : new TermColumn(offsets, Uint8Array.from(Buffer.concat(datas)), syntax);
    } else {
      // dict and const: one dictionary across batches.
      const values: unknown[] = [];
      const index = new Map<unknown, number>();
      const idOf = (v: unknown) => {
        let id = index.get(v);
        if (id === undefined) {
          id = values.push(v) - 1;
          index.set(v, id);
        }
        return id;
      };
      const ids = new Uint32Array(total);
      let row = 0;
      batches.forEach((b, i) => {
        const p = parts[i];
        if (p?.type === "dict") {
          const remap = p.values.map(idOf);
          for (let r = 0; r < b.count; r++) ids[row + r] = remap[p.indexes[r]];
        } else ids.fill(idOf(p?.type === "const" ? p.value : null), row, row + b.count);
        row += b.count;
      });
      if (values.length === 1) out[name] = new ConstColumn(values[0], total);
      else {
        const indexes = indexArray(values.length, total);
        indexes.set(ids);
        out[name] = new DictColumn(values, indexes);
      }
    }
  }
  return out;
}

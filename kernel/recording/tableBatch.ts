/**
 * Rows of a recorded table (an Arrow file read back by kernel/tables/capture.ts) as the columnar batch a node
 * sends (kernel/beam/protocol.ts), so a replay feeds them through the same decoder and table builder as a live
 * run: numbers as f64 or i32, term columns as their raw bytes, everything else as a dictionary.
 */
import { Atom, encode, ErlFloat, ErlMap, List, Tuple, type ErlTerm } from "../beam/etf";
import type { ColumnTable } from "../analysis/aq";
import { TermColumn } from "../tables/columns";
import { ARROW_FLOAT, ARROW_INT } from "../tables/capture";

const le = (a: Float64Array | Int32Array | Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A dictionary value as a node would send it (decodeBatch's plainValue reads it back as the same value). */
function dictValue(v: unknown): ErlTerm {
  if (v === null || v === undefined) return new Atom("nil");
  if (typeof v === "boolean") return new Atom(String(v));
  if (typeof v === "number") return Number.isInteger(v) ? v : new ErlFloat(v);
  if (v instanceof Date) return new ErlFloat(v.getTime());
  return Buffer.from(String(v));
}

function column(table: ColumnTable, name: string, from: number, rows: number, arrowType?: number): Tuple {
  const col = table.column(name) as unknown;
  if (col instanceof TermColumn) {
    const offsets = new Uint32Array(rows + 1);
    const base = col.offsets[from];
    for (let r = 0; r <= rows; r++) offsets[r] = col.offsets[from + r] - base;
    return new Tuple([new Atom("terms"), le(offsets), Buffer.from(col.data.subarray(base, col.offsets[from + rows]))]);
  }
  const values = table.array(name) as ArrayLike<unknown>;
  if (values instanceof Float64Array || values instanceof Float32Array) return new Tuple([new Atom("f64"), le(Float64Array.from(values.subarray(from, from + rows)))]);
  if (ArrayBuffer.isView(values) && !(values instanceof BigInt64Array) && !(values instanceof BigUint64Array) && !(values instanceof DataView)) {
    return new Tuple([new Atom("i32"), le(Int32Array.from((values as Int32Array).subarray(from, from + rows)))]);
  }
  // Numbers the node sent as f64 or i32 (Arrow float or int, with no null): the same again, so the table
  // builder stores (and the display formats) them as it did live.
  if (arrowType === ARROW_FLOAT || arrowType === ARROW_INT) {
    const part = Array.from({ length: rows }, (_, r) => values[from + r]);
    if (part.every((v) => typeof v === "number")) {
      return arrowType === ARROW_FLOAT ? new Tuple([new Atom("f64"), le(Float64Array.from(part as number[]))]) : new Tuple([new Atom("i32"), le(Int32Array.from(part as number[]))]);
    }
  }
  const ids = new Map<unknown, number>();
  const distinct: unknown[] = [];
  const indexes = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let v = values[from + r] as unknown;
    if (typeof v === "bigint") v = Number(v);
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = distinct.push(v) - 1));
    indexes[r] = id;
  }
  if (distinct.length <= 1) return new Tuple([new Atom("const"), dictValue(distinct[0] ?? null)]);
  return new Tuple([new Atom("dict"), new List(distinct.map(dictValue)), le(indexes)]);
}

/** Rows [from, from + rows) of `table` as a batch of `kind`, in the external term format. */
export function batchOf(table: ColumnTable, kind: string, from: number, rows: number, dropped = 0, types: Record<string, number> = {}): Buffer {
  const columns = new ErlMap(table.columnNames().map((n) => [new Atom(n), column(table, n, from, rows, types[n])]));
  return encode(new ErlMap([
    [new Atom("kind"), new Atom(kind)],
    [new Atom("count"), rows],
    [new Atom("dropped"), dropped],
    [new Atom("columns"), columns],
  ]));
}

/**
 * Columnar access to Arquero tables for the analyses: whole columns as typed arrays or plain arrays (in the
 * table's row order, honouring filters and orderby), group codes for key columns, and the `Mod.fun/arity`
 * label. Working on arrays rather than row objects is what lets a million-row table be summarised quickly.
 */
import type { ColumnTable } from "./aq";

export function hasColumn(t: ColumnTable, name: string): boolean {
  return t.columnNames().includes(name);
}

export function requireColumns(t: ColumnTable, names: readonly string[], what: string): void {
  const missing = names.filter((n) => !hasColumn(t, n));
  if (missing.length) {
    throw new Error(`${what} needs the column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (the table has ${t.columnNames().join(", ") || "no columns"})`);
  }
}

/** Table row numbers in scan order (filter and orderby applied), or null when they are 0…n-1. */
function rowIndex(t: ColumnTable): Uint32Array | null {
  return t.isFiltered() || t.isOrdered() ? t.indices() : null;
}

interface AtColumn {
  at(row: number): unknown;
}

function column(t: ColumnTable, name: string): AtColumn {
  const c = t.column(name) as AtColumn | undefined;
  if (!c) throw new Error(`the table has no column ${name}`);
  return c;
}

/** A numeric column as float64; null, undefined and non-numbers become NaN. May share the table's own array: do not modify it. */
export function numbers(t: ColumnTable, name: string): Float64Array {
  const c = column(t, name);
  const idx = rowIndex(t);
  if (!idx && c instanceof Float64Array) return c;
  const n = t.numRows();
  const out = new Float64Array(n);
  if (!idx && (c instanceof Int32Array || c instanceof Uint32Array || c instanceof Float32Array)) {
    out.set(c);
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = c.at(idx ? idx[i] : i);
    out[i] = v == null ? NaN : typeof v === "number" ? v : Number(v);
  }
  return out;
}

/** Any column as an array of its values. May share the table's own array: do not modify it. */
export function values<T = unknown>(t: ColumnTable, name: string): ArrayLike<T> {
  const c = column(t, name);
  const idx = rowIndex(t);
  if (!idx && (Array.isArray(c) || ArrayBuffer.isView(c))) return c as unknown as ArrayLike<T>;
  const n = t.numRows();
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = c.at(idx ? idx[i] : i) as T;
  return out;
}

/** A column as display text: null stays null, terms and everything else go through String(). */
export function texts(t: ColumnTable, name: string): (string | null)[] {
  const c = column(t, name);
  const idx = rowIndex(t);
  const n = t.numRows();
  const out = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const v = c.at(idx ? idx[i] : i);
    out[i] = v == null ? null : typeof v === "string" ? v : String(v);
  }
  return out;
}

/**
 * One cell at a time: position → value (display text with `asText`), for columns too costly to read whole,
 * such as term columns that format each value when read.
 */
export function cellReader(t: ColumnTable, name: string): (position: number) => unknown;
export function cellReader(t: ColumnTable, name: string, asText: true): (position: number) => string | null;
export function cellReader(t: ColumnTable, name: string, asText = false): (position: number) => unknown {
  const c = column(t, name);
  const idx = rowIndex(t);
  return (p) => {
    const v = c.at(idx ? idx[p] : p);
    return asText ? (v == null ? null : typeof v === "string" ? v : String(v)) : v;
  };
}

/** Table row numbers (for `reify`) of the scan-order positions given. */
export function rowNumbers(t: ColumnTable, positions: ArrayLike<number>): Uint32Array {
  const idx = rowIndex(t);
  const out = new Uint32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = idx ? idx[positions[i]] : positions[i];
  return out;
}

export interface Groups {
  /** The group of each row, 0…count-1, numbered in order of first appearance. */
  codes: Int32Array;
  count: number;
  /** The key values of each group: keys[k][g] is column k's value for group g. */
  keys: unknown[][];
  /** A representative (first) row position of each group. */
  first: Int32Array;
}

/** Dictionary-encoded columns (kernel/tables/columns.ts DictColumn) expose their codes. */
interface DictLike {
  values: readonly unknown[];
  indexes: Uint32Array;
}
const isDict = (c: unknown): c is DictLike =>
  typeof c === "object" && c !== null && (c as DictLike).indexes instanceof Uint32Array && Array.isArray((c as DictLike).values);

/** Codes 0…cardinality-1 for one column's values, numbered in order of first appearance. */
function columnCodes(t: ColumnTable, name: string): { codes: Int32Array; cardinality: number; value: (row: number) => unknown } {
  const n = t.numRows();
  const c = column(t, name);
  const idx = rowIndex(t);
  const codes = new Int32Array(n);
  const ids = new Map<unknown, number>();
  if (isDict(c)) {
    // Map each dictionary entry once (equal entries share a code), then the rows through their indexes.
    const remap = new Int32Array(c.values.length).fill(-1);
    for (let i = 0; i < n; i++) {
      const d = c.indexes[idx ? idx[i] : i];
      let code = remap[d];
      if (code < 0) {
        const v = c.values[d];
        code = ids.get(v) ?? ids.size;
        if (code === ids.size) ids.set(v, code);
        remap[d] = code;
      }
      codes[i] = code;
    }
  } else {
    const vs = values(t, name);
    let last: unknown = undefined;
    let lastCode = -1;
    for (let i = 0; i < n; i++) {
      const v = vs[i];
      if (lastCode < 0 || v !== last) {
        let code = ids.get(v);
        if (code === undefined) ids.set(v, (code = ids.size));
        last = v;
        lastCode = code;
      }
      codes[i] = lastCode;
    }
  }
  const byCode = [...ids.keys()];
  return { codes, cardinality: Math.max(1, ids.size), value: (row) => byCode[codes[row]] };
}

/** Group rows by the values of key columns (no keys: one group). */
export function groupCodes(t: ColumnTable, names: readonly string[]): Groups {
  const n = t.numRows();
  const perColumn = names.map((name) => columnCodes(t, name));
  const codes = new Int32Array(n);
  const first: number[] = [];
  const product = perColumn.reduce((p, c) => p * c.cardinality, 1);
  if (product <= 1 << 22) {
    // Dense: the combined key indexes a table of group ids.
    const gid = new Int32Array(product).fill(-1);
    for (let i = 0; i < n; i++) {
      let key = 0;
      for (const c of perColumn) key = key * c.cardinality + c.codes[i];
      let g = gid[key];
      if (g < 0) {
        g = gid[key] = first.length;
        first.push(i);
      }
      codes[i] = g;
    }
  } else {
    const gids = new Map<number | string, number>();
    for (let i = 0; i < n; i++) {
      let key: number | string;
      if (product < 2 ** 52) {
        key = 0;
        for (const c of perColumn) key = key * c.cardinality + c.codes[i];
      } else {
        key = perColumn.map((c) => c.codes[i]).join(",");
      }
      let g = gids.get(key);
      if (g === undefined) {
        gids.set(key, (g = first.length));
        first.push(i);
      }
      codes[i] = g;
    }
  }
  const keys = perColumn.map((c) => first.map((i) => c.value(i)));
  return { codes, count: first.length, keys, first: Int32Array.from(first) };
}

/** Row positions of each group, contiguous: positions[offsets[g] … offsets[g+1]) belong to group g, in row order. */
export function groupPositions(groups: Groups): { offsets: Int32Array; positions: Int32Array } {
  const { codes, count } = groups;
  const offsets = new Int32Array(count + 1);
  for (let i = 0; i < codes.length; i++) offsets[codes[i] + 1]++;
  for (let g = 0; g < count; g++) offsets[g + 1] += offsets[g];
  const fill = offsets.slice(0, count);
  const positions = new Int32Array(codes.length);
  for (let i = 0; i < codes.length; i++) positions[fill[codes[i]]++] = i;
  return { offsets, positions };
}

/** `Mod.fun/arity`, as the calls table's module/function/arity columns spell it. */
export function mfaLabel(module: unknown, fun: unknown, arity: unknown): string {
  return `${module}.${fun}/${arity}`;
}

/** The MFA label of every row of a calls table (computed once per distinct MFA). */
export function mfaColumn(calls: ColumnTable): string[] {
  const g = groupCodes(calls, ["module", "function", "arity"]);
  const labels = g.keys[0].map((m, i) => mfaLabel(m, g.keys[1][i], g.keys[2][i]));
  const out = new Array<string>(g.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = labels[g.codes[i]];
  return out;
}

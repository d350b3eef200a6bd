/**
 * How a table column reads: what kind of values it holds (decided from its values and its name, as the probe
 * schemas name them: `*_us` durations, `time_us`/`start_us` times, `*_bytes`/`memory_*` sizes), and each value
 * as text a person reads — numbers with sensible precision and units, times as dates. Display only: the data
 * keeps the raw values (and the HTML shows the raw value on hover).
 */
import { cellText, isTerm } from "./plainText";
import type { TableLike } from "./tableBundle";

export type ColumnKind = "int" | "float" | "duration" | "time" | "bytes" | "boolean" | "date" | "term" | "string" | "null";

/** Kinds whose values are numbers, right-aligned. */
export const NUMERIC: ReadonlySet<ColumnKind> = new Set(["int", "float", "duration", "time", "bytes"]);

/** µs since the epoch after 1973: a time, not a duration. */
const EPOCH_US = 1e14;
const TIME_NAME = /(^|_)(time|start|at|timestamp)_us$/;

/** The column's kind from up to `sample` of its values (from `from` on) and its name. */
export function columnKind(table: TableLike, name: string, from: number, sample: number): ColumnKind {
  let numeric: "int" | "float" | undefined;
  let first: unknown;
  let big = false;
  const end = Math.min(table.numRows(), from + sample);
  for (let r = from; r < end; r++) {
    const v = table.get(name, r);
    if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) continue;
    first ??= v;
    if (typeof v === "number") {
      // One fractional value makes the column a float column, whatever its first values were.
      if (!Number.isInteger(v)) numeric = "float";
      else numeric ??= "int";
      if (Math.abs(v) > EPOCH_US) big = true;
      continue;
    }
    if (typeof v === "bigint") {
      numeric ??= "int";
      continue;
    }
    break;
  }
  if (first === undefined) return "null";
  if (numeric) {
    if (/_us$/.test(name)) return TIME_NAME.test(name) || big ? "time" : "duration";
    if (/_bytes$|^memory(_|$)/.test(name)) return "bytes";
    return floatStorage(table, name) ? "float" : numeric;
  }
  if (isTerm(first)) return "term";
  if (first instanceof Date) return "date";
  if (typeof first === "boolean") return "boolean";
  return "string";
}

/** Whether Arquero keeps the column as floats (a Float64Array), though the values seen were whole. */
function floatStorage(table: TableLike, name: string): boolean {
  const column = (table as { column?: (n: string) => unknown }).column?.(name) as { data?: unknown } | undefined;
  const data = column instanceof Float64Array || column instanceof Float32Array ? column : column?.data;
  return data instanceof Float64Array || data instanceof Float32Array;
}

const sig3 = (x: number) => Number(x.toPrecision(3)).toLocaleString("en", { maximumFractionDigits: 3 });

/** A duration in µs: `840 ns`, `1.49 µs`, `11.3 ms`, `2.05 s`, `3 min 20 s`. */
export function formatDuration(us: number): string {
  const a = Math.abs(us);
  if (a === 0) return "0";
  if (a < 1) return `${sig3(us * 1000)} ns`;
  if (a < 1000) return `${sig3(us)} µs`;
  if (a < 1e6) return `${sig3(us / 1000)} ms`;
  if (a < 60e6) return `${sig3(us / 1e6)} s`;
  const s = Math.round(us / 1e6);
  return `${Math.trunc(s / 60)} min ${Math.abs(s % 60)} s`;
}

/** A time in µs since the epoch, in UTC to the µs: `2026-12-02 04:03:31.666403`. */
export function formatTime(us: number): string {
  const ms = Math.floor(us / 1000);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return String(us);
  const micro = String(Math.round(us - ms * 1000)).padStart(3, "0");
  return `${date.toISOString().slice(0, 23).replace("T", " ")}${micro === "1000" ? "999" : micro}`;
}

export function formatBytes(n: number): string {
  const a = Math.abs(n);
  if (a < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return `${sig3(v)} ${units[u]}`;
}

/** A float with as many decimals as its size deserves: `805.16`, `1.492`, `0.0123`, `1.235e-7`. */
export function formatFloat(x: number): string {
  const a = Math.abs(x);
  if (!Number.isFinite(x)) return String(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e15)) return x.toExponential(3).replace("e+", "e");
  return x.toLocaleString("en", { maximumFractionDigits: a >= 100 ? 2 : a >= 1 ? 3 : 4 });
}

/** One value as its column shows it. */
export function formatValue(v: unknown, kind: ColumnKind): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "";
    switch (kind) {
      case "duration":
        return formatDuration(v);
      case "time":
        return formatTime(v);
      case "bytes":
        return formatBytes(v);
      case "float":
        return formatFloat(v);
      case "int":
        return Math.abs(v) >= 10_000 ? v.toLocaleString("en") : String(v);
    }
  }
  return cellText(v);
}

/** What the column header says under the name. */
export function kindLabel(kind: ColumnKind): string {
  return { duration: "float · duration", time: "float · time (UTC)", bytes: "int · bytes" }[kind as string] ?? kind;
}

/** Whether a column holds no value in any row (checked to the end; a column of one constant value at once). */
export function allNull(table: TableLike, name: string): boolean {
  const column = (table as { column?: (n: string) => unknown }).column?.(name) as { value?: unknown; length?: number } | undefined;
  if (column && "value" in column && typeof column.length === "number") return column.value === null || column.value === undefined;
  const n = table.numRows();
  for (let r = 0; r < n; r++) {
    const v = table.get(name, r);
    if (v !== null && v !== undefined && !(typeof v === "number" && Number.isNaN(v))) return false;
  }
  return true;
}

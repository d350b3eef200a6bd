/**
 * Columnar batches (kernel/beam/protocol.ts) decoded: numbers become typed arrays, dictionaries stay
 * dictionaries, terms stay bytes, so a million rows cost a few typed arrays, not a million objects
 * (kernel/tables/tableBuilder.ts appends them to a probe's table).
 */
import { Atom, decode, ErlFloat, ErlMap, List, Pid, Port, Ref, Tuple, type ErlTerm } from "./etf";
import { formatTerm } from "./termFormat";

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

/**
 * A term as it arrives from a node: its raw external-format bytes, decoded only when read and formatted
 * only when shown (Elixir or Erlang syntax, per node). `String(term)` formats it; `term.value` gives a plain
 * JavaScript value:
 *
 *   atoms → strings (`:ok` → "ok"; nil/true/false → null/true/false; a redacted secret → "[redacted]"), integers → numbers (or BigInt past
 *   2^53), floats → numbers, binaries → strings when UTF-8 text else Uint8Array, charlists → arrays of
 *   numbers, lists → arrays, tuples → arrays, maps → objects when every key is an atom or string, else Map;
 *   pids, ports, refs and funs → their text.
 */
import { Atom, BitBinary, decode, ErlFloat, ErlMap, Fun, List, Pid, Port, Ref, shortText, Tuple, type ErlTerm } from "./etf";
import { formatTerm, REDACTED_ATOM, REDACTED_TEXT, type Syntax } from "./termFormat";

export const TERM = Symbol.for("elixirlumin.term");

export class Term {
  readonly [TERM] = true;
  private decoded?: ErlTerm;

  constructor(
    readonly bytes: Uint8Array,
    readonly syntax: Syntax = "elixir",
  ) {}

  static of(term: ErlTerm, syntax: Syntax = "elixir"): Term {
    const t = new Term(new Uint8Array(0), syntax);
    t.decoded = term;
    return t;
  }

  /** The decoded term model (kernel/beam/etf.ts). */
  get term(): ErlTerm {
    return (this.decoded ??= decode(this.bytes));
  }

  get value(): unknown {
    return toJs(this.term);
  }

  toString(): string {
    return formatTerm(this.term, this.syntax);
  }

  toJSON(): unknown {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/plain": this.toString() };
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function toJs(t: ErlTerm): unknown {
  if (typeof t === "number" || typeof t === "bigint") return t;
  if (t instanceof ErlFloat) return t.value;
  if (t instanceof Atom && t.name === REDACTED_ATOM) return REDACTED_TEXT;
  if (t instanceof Atom) return t.name === "nil" || t.name === "undefined" ? null : t.name === "true" ? true : t.name === "false" ? false : t.name.replace(/^Elixir\./, "");
  if (t instanceof Uint8Array) {
    try {
      // Short ASCII text (module and function names, nodes) read byte by byte: cheaper than a decoder call.
      return shortText(t, utf8);
    } catch {
      return t;
    }
  }
  if (t instanceof BitBinary) return t.bytes;
  if (t instanceof Tuple) return t.elements.map(toJs);
  if (t instanceof List) {
    const arr = t.elements.map(toJs);
    if (!(t.tail instanceof List && t.tail.elements.length === 0)) arr.push(toJs(t.tail));
    return arr;
  }
  if (t instanceof ErlMap) {
    const simple = t.entries.every(([k]) => k instanceof Atom || k instanceof Uint8Array);
    if (!simple) return new Map(t.entries.map(([k, v]) => [toJs(k), toJs(v)]));
    return Object.fromEntries(t.entries.map(([k, v]) => [String(toJs(k)), toJs(v)]));
  }
  if (t instanceof Pid || t instanceof Port || t instanceof Ref || t instanceof Fun) return formatTerm(t, "erlang");
  return t;
}

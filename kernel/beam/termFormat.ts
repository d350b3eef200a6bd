/**
 * Terms as text, in Elixir syntax (inspect's conventions) or Erlang syntax (~p's), bounded: long lists,
 * maps, tuples and binaries are cut with `...`, so one huge term never floods an output.
 */
import { Atom, BitBinary, ErlFloat, ErlMap, Fun, List, Pid, Port, Ref, Tuple, type ErlTerm } from "./etf";

export type Syntax = "elixir" | "erlang";

export interface FormatLimits {
  /** Elements shown of a list, tuple or map. */
  items: number;
  /** Characters shown of a binary or string. */
  chars: number;
  /** Nesting depth shown. */
  depth: number;
}

export const DEFAULT_LIMITS: FormatLimits = { items: 50, chars: 1000, depth: 12 };

const utf8 = new TextDecoder("utf-8", { fatal: true });

function printable(bytes: Uint8Array): string | undefined {
  try {
    const s = utf8.decode(bytes);
    return /^[\p{L}\p{N}\p{P}\p{S}\p{Zs}\n\r\t]*$/u.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

function quote(s: string, limit: number): string {
  const cut = s.length > limit ? `${s.slice(0, limit)}...` : s;
  return `"${cut.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\t/g, "\\t").replace(/\r/g, "\\r")}"`;
}

const ELIXIR_PLAIN_ATOM = /^[a-z_][a-zA-Z0-9_@]*[?!]?$/;
const ERLANG_PLAIN_ATOM = /^[a-z][a-zA-Z0-9_@]*$/;

export function atomText(name: string, syntax: Syntax): string {
  if (syntax === "erlang") return ERLANG_PLAIN_ATOM.test(name) ? name : `'${name.replace(/'/g, "\\'")}'`;
  if (name === "nil" || name === "true" || name === "false") return name;
  if (name.startsWith("Elixir.")) return name.slice(7);
  return ELIXIR_PLAIN_ATOM.test(name) ? `:${name}` : `:"${name.replace(/"/g, '\\"')}"`;
}

function pidText(p: Pid, syntax: Syntax): string {
  const text = `<0.${p.id}.${p.serial}>`;
  return syntax === "elixir" ? `#PID${text}` : text;
}

/** A charlist Elixir or Erlang would print as text. */
function charlist(l: List): string | undefined {
  if (l.elements.length === 0 || !(l.tail instanceof List && l.tail.elements.length === 0)) return undefined;
  let s = "";
  for (const e of l.elements) {
    if (typeof e !== "number" || e < 32 || e > 0x10ffff || (e > 126 && e < 160)) {
      if (e === 10 || e === 9) s += String.fromCharCode(e);
      else return undefined;
    } else s += String.fromCodePoint(e);
  }
  return s;
}

export function formatTerm(t: ErlTerm, syntax: Syntax, limits: FormatLimits = DEFAULT_LIMITS, depth = 0): string {
  const f = (x: ErlTerm) => formatTerm(x, syntax, limits, depth + 1);
  // Elixir's inspect separates elements with ", ", Erlang's ~p with ",".
  const items = <T>(list: T[], g: (x: T) => string, max: number) => itemsJoined(list, g, max, syntax === "elixir" ? ", " : ",");
  if (depth > limits.depth) return "...";
  if (typeof t === "number" || typeof t === "bigint") return String(t);
  if (t instanceof ErlFloat) {
    const s = String(t.value).replace("e+", "e");
    return /[.eE]|Infinity|NaN/.test(s) ? (/e/.test(s) && !s.includes(".") ? s.replace("e", ".0e") : s) : `${s}.0`;
  }
  if (t instanceof Atom) return atomText(t.name, syntax);
  if (t instanceof Uint8Array) {
    const s = printable(t);
    if (s !== undefined) return syntax === "elixir" ? quote(s, limits.chars) : `<<${quote(s, limits.chars)}>>`;
    return `<<${items(Array.from(t), String, limits.items)}>>`;
  }
  if (t instanceof BitBinary) {
    const last = t.bytes[t.bytes.length - 1] >> (8 - t.bitsInLastByte);
    return `<<${items([...Array.from(t.bytes.subarray(0, -1), String), syntax === "elixir" ? `${last}::size(${t.bitsInLastByte})` : `${last}:${t.bitsInLastByte}`], (x) => x, limits.items)}>>`;
  }
  if (t instanceof Tuple) {
    if (syntax === "elixir" && isCut(t)) return `#cut<${t.elements[1]} bytes: ${f(t.elements[2])}>`;
    return `{${items(t.elements, f, limits.items)}}`;
  }
  if (t instanceof List) {
    const chars = charlist(t);
    if (chars !== undefined) return syntax === "elixir" ? `~c${quote(chars, limits.chars)}` : quote(chars, limits.chars);
    if (syntax === "elixir" && isKeyword(t)) {
      return `[${items(t.elements, (e) => keywordPair(e as Tuple, f), limits.items)}]`;
    }
    const improper = t.tail instanceof List && t.tail.elements.length === 0 ? "" : `${syntax === "elixir" ? " | " : "|"}${f(t.tail)}`;
    return `[${items(t.elements, f, limits.items)}${improper}]`;
  }
  if (t instanceof ErlMap) return formatMap(t, syntax, f, limits);
  if (t instanceof Pid) return pidText(t, syntax);
  if (t instanceof Port) return syntax === "elixir" ? `#Port<0.${t.id}>` : `#Port<0.${t.id}>`;
  if (t instanceof Ref) return `#Reference<0.${[...t.ids].reverse().join(".")}>`;
  if (t instanceof Fun) return t.exported ? (syntax === "elixir" ? `&${atomText(t.module, "elixir").replace(/^:/, ":")}.${t.name}/${t.arity}` : `fun ${t.module}:${t.name}/${t.arity}`) : `#Function<${t.module}/${t.arity}>`;
  return String(t);
}

function isCut(t: Tuple): boolean {
  return t.elements.length === 3 && t.elements[0] instanceof Atom && t.elements[0].name === "lumin_cut";
}

function isKeyword(l: List): boolean {
  return l.elements.length > 0 && l.elements.every((e) => e instanceof Tuple && e.elements.length === 2 && e.elements[0] instanceof Atom && ELIXIR_PLAIN_ATOM.test(e.elements[0].name));
}

function keywordPair(t: Tuple, f: (x: ErlTerm) => string): string {
  return `${(t.elements[0] as Atom).name}: ${f(t.elements[1])}`;
}

function itemsJoined<T>(list: T[], f: (x: T) => string, max: number, sep: string): string {
  const shown = list.slice(0, max).map(f).join(sep);
  return list.length > max ? `${shown}${sep}...` : shown;
}

function formatMap(m: ErlMap, syntax: Syntax, f: (x: ErlTerm) => string, limits: FormatLimits): string {
  const items = <T>(list: T[], g: (x: T) => string, max: number) => itemsJoined(list, g, max, syntax === "elixir" ? ", " : ",");
  if (syntax === "erlang") return `#{${items(m.entries, ([k, v]) => `${f(k)} => ${f(v)}`, limits.items)}}`;
  const struct = m.get("__struct__");
  // As Elixir's inspect: a struct's __struct__ becomes its name, and an exception's __exception__ is hidden.
  const hidden = (k: ErlTerm) => k instanceof Atom && (k.name === "__struct__" || k.name === "__exception__");
  const entries = struct ? m.entries.filter(([k]) => !hidden(k)) : m.entries;
  const body = items(entries, ([k, v]) => (k instanceof Atom && ELIXIR_PLAIN_ATOM.test(k.name) ? `${k.name}: ${f(v)}` : `${f(k)} => ${f(v)}`), limits.items);
  return struct instanceof Atom ? `%${atomText(struct.name, "elixir")}{${body}}` : `%{${body}}`;
}

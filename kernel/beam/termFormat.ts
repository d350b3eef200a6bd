/**
 * Terms as text, in Elixir syntax (inspect's conventions) or Erlang syntax (~p's), bounded: long lists,
 * maps, tuples and binaries are cut with `...`, so one huge term never floods an output.
 */
import { Atom, BitBinary, ErlFloat, ErlMap, Fun, List, Pid, Port, Ref, Tuple, type ErlTerm } from "./etf";

export type Syntax = "elixir" | "erlang";

/**
 * What the agent puts in place of a secret (elixir_agent/src/lumin_redact.erl), and how it reads everywhere
 * a term is shown — tables, chart tooltips, %explain, %state — in either syntax.
 */
export const REDACTED_ATOM = "lumin_redacted";
export const REDACTED_TEXT = "[redacted]";

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

/**
 * Which characters each language prints as text, as the node itself decides.
 * Elixir (`inspect`): a string is valid UTF-8 whose every character is printable (`String.printable?`); a list is
 * a charlist only when it is all ASCII-printable (`List.ascii_printable?`), so `[233]` and `[259403]` stay lists.
 * Erlang (`io_lib`'s `~tp` with the default printable range, latin1): a list is a string when every element is a
 * printable latin1 character; a binary when it is UTF-8 of such characters (`<<"é"/utf8>>`) or when its bytes
 * are (`<<"é">>`).
 */
const ESCAPE_CHARS: Record<Syntax, Set<number>> = {
  elixir: new Set([7, 8, 9, 10, 11, 12, 13, 27]),
  erlang: new Set([8, 9, 10, 11, 12, 13, 27]),
};

function elixirStringChar(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff) || c === 0x7f || ESCAPE_CHARS.elixir.has(c);
}
function elixirCharlistChar(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || ESCAPE_CHARS.elixir.has(c);
}
function erlangChar(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || ESCAPE_CHARS.erlang.has(c);
}

const every = (codes: Iterable<number>, ok: (c: number) => boolean) => {
  for (const c of codes) if (!ok(c)) return false;
  return true;
};
const codePoints = (s: string) => Array.from(s, (ch) => ch.codePointAt(0)!);

/** A binary as the text its language would print it as, or undefined when it prints as bytes. */
function binaryText(bytes: Uint8Array, syntax: Syntax, limit: number): string | undefined {
  let text: string | undefined;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (syntax === "elixir") return text !== undefined && every(codePoints(text), elixirStringChar) ? quote(text, limit, "elixir") : undefined;
  if (bytes.length === 0) return "<<>>";
  if (text !== undefined && every(codePoints(text), erlangChar)) return `<<${quote(text, limit, "erlang")}${/[^\x00-\x7f]/.test(text) ? "/utf8" : ""}>>`;
  if (every(bytes, erlangChar)) return `<<${quote(String.fromCharCode(...bytes.subarray(0, limit + 1)), limit, "erlang")}>>`;
  return undefined;
}

const ESCAPES: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 27: "\\e", 127: "\\d", 34: '\\"', 92: "\\\\" };

function quote(s: string, limit: number, syntax: Syntax): string {
  const chars = Array.from(s);
  const shown = chars.length > limit ? chars.slice(0, limit) : chars;
  let body = "";
  for (const ch of shown) body += ESCAPES[ch.codePointAt(0)!] ?? ch;
  // Elixir escapes interpolation, so the text reads back as the same string.
  if (syntax === "elixir") body = body.replace(/#\{/g, "\\#{");
  return `"${body}${chars.length > limit ? "..." : ""}"`;
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

/** A list its language would print as text (a charlist in Elixir, a string in Erlang), or undefined. */
function charlist(l: List, syntax: Syntax): string | undefined {
  if (l.elements.length === 0 || !(l.tail instanceof List && l.tail.elements.length === 0)) return undefined;
  const ok = syntax === "elixir" ? elixirCharlistChar : erlangChar;
  if (!l.elements.every((e) => typeof e === "number" && ok(e))) return undefined;
  return String.fromCodePoint(...(l.elements as number[]));
}

/**
 * `inCut`: formatting the start of a term the node cut (`{lumin_cut, Bytes, Start}`), where the atom `'...'`
 * stands for what was left out and prints as a bare `...`.
 */
export function formatTerm(t: ErlTerm, syntax: Syntax, limits: FormatLimits = DEFAULT_LIMITS, depth = 0, inCut = false): string {
  const f = (x: ErlTerm) => formatTerm(x, syntax, limits, depth + 1, inCut);
  // Elixir's inspect separates elements with ", ", Erlang's ~p with ",".
  const items = <T>(list: T[], g: (x: T) => string, max: number) => itemsJoined(list, g, max, syntax === "elixir" ? ", " : ",");
  if (depth > limits.depth) return "...";
  if (typeof t === "number" || typeof t === "bigint") return String(t);
  if (t instanceof ErlFloat) {
    const s = String(t.value).replace("e+", "e");
    return /[.eE]|Infinity|NaN/.test(s) ? (/e/.test(s) && !s.includes(".") ? s.replace("e", ".0e") : s) : `${s}.0`;
  }
  if (t instanceof Atom) return inCut && t.name === "..." ? "..." : t.name === REDACTED_ATOM ? REDACTED_TEXT : atomText(t.name, syntax);
  if (t instanceof Uint8Array) return binaryText(t, syntax, limits.chars) ?? `<<${items(Array.from(t), String, limits.items)}>>`;
  if (t instanceof BitBinary) {
    const last = t.bytes[t.bytes.length - 1] >> (8 - t.bitsInLastByte);
    return `<<${items([...Array.from(t.bytes.subarray(0, -1), String), syntax === "elixir" ? `${last}::size(${t.bitsInLastByte})` : `${last}:${t.bitsInLastByte}`], (x) => x, limits.items)}>>`;
  }
  if (t instanceof Tuple) {
    // A term cut on the node: its start, then how much was left out.
    if (isCut(t)) return `${formatTerm(t.elements[2], syntax, limits, depth + 1, true)}…(${Number(t.elements[1]).toLocaleString("en")} bytes cut)`;
    return `{${items(t.elements, f, limits.items)}}`;
  }
  if (t instanceof List) {
    const chars = charlist(t, syntax);
    if (chars !== undefined) return syntax === "elixir" ? `~c${quote(chars, limits.chars, "elixir")}` : quote(chars, limits.chars, "erlang");
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
  const bytes = t.elements[1];
  return t.elements.length === 3 && t.elements[0] instanceof Atom && t.elements[0].name === "lumin_cut" && (typeof bytes === "number" || typeof bytes === "bigint");
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

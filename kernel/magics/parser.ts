/**
 * The one argument parser every magic shares (IPython's magic_arguments in spirit): it reads a magic's
 * declaration, so flags, usage and errors are never written twice. Words split like a shell's: quotes group,
 * backslash escapes.
 */
import { MagicUsageError, type AnyFlagValue, type FlagSpec, type FlagType, type Magic, type MagicArgs } from "./declaration";
import { usage } from "./help";

export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: '"' | "'" | null = null;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new MagicUsageError(`A ${quote === '"' ? "double" : "single"} quote is not closed.`);
  if (inWord) words.push(word);
  return words;
}

/** The closest name by edit distance, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]++;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}

function usageError(decl: Magic, what: string): MagicUsageError {
  return new MagicUsageError(`%${decl.name}: ${what}\nUsage: ${usage(decl)}\nSee %${decl.name}? for help.`);
}

/** How a flag is named in an error: as the user wrote it (`-n` or `--limit`). */
const spelled = (spec: FlagSpec, short: boolean) => (short && spec.short ? `-${spec.short}` : `--${spec.name}`);

/** A flag's text as its declared type; a usage error naming the flag when it cannot be read. */
export function flagValue(type: FlagType | undefined, text: string, what: string): string | number {
  switch (type ?? "text") {
    case "int":
      return parsePositiveInt(text, what);
    case "duration":
      return parseDuration(text, what);
    case "rate":
      return parseRate(text, what);
    default:
      return text;
  }
}

export function parseArgs(decl: Magic, argText: string): MagicArgs {
  const flags: Record<string, AnyFlagValue> = {};
  const positionals: Record<string, string | string[] | undefined> = {};
  const free: string[] = [];
  const specs = decl.flags ?? [];
  let words: string[];
  try {
    words = splitWords(argText);
  } catch (e) {
    throw usageError(decl, (e as Error).message);
  }

  const read = (spec: FlagSpec, text: string, short: boolean): string | number => {
    const name = spelled(spec, short);
    if (spec.choices && !spec.choices.includes(text)) throw usageError(decl, `${name} must be one of ${spec.choices.join(", ")}, not "${text}".`);
    try {
      return flagValue(spec.type, text, name);
    } catch (e) {
      throw usageError(decl, (e as Error).message);
    }
  };
  const setFlag = (spec: FlagSpec, value: string | number | boolean, short: boolean) => {
    if (spec.repeatable) flags[spec.name] = [...((flags[spec.name] as (string | number)[]) ?? []), value as string | number];
    else if (flags[spec.name] !== undefined) throw usageError(decl, `${spelled(spec, short)} is given twice.`);
    else flags[spec.name] = value;
  };

  const positionalSpecs = decl.positionals ?? [];
  const rawAt = positionalSpecs.findIndex((p) => p.rest && p.raw);
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (rawAt >= 0 && free.length >= rawAt && !word.startsWith("--")) {
      free.push(...words.slice(i));
      break;
    }
    const isFlag = word.startsWith("-") && word.length > 1 && !/^-\d/.test(word);
    if (!isFlag || word === "--") {
      if (word === "--") free.push(...words.slice(i + 1));
      else free.push(word);
      if (word === "--") break;
      continue;
    }
    const long = word.startsWith("--");
    // `-n 3`, `-n3` and `-n=3` all give -n the value 3.
    const [rawName, inline] = long ? splitOnce(word.slice(2), "=") : [word.slice(1, 2), word.length > 2 ? word.slice(2).replace(/^=/, "") : undefined];
    const spec = specs.find((f) => (long ? f.name === rawName : f.short === rawName));
    if (!spec) {
      const names = specs.map((f) => f.name);
      const hint = closest(rawName, names);
      throw usageError(decl, `unknown option ${long ? "--" : "-"}${rawName}${hint ? ` (did you mean --${hint}?)` : ""}.`);
    }
    const name = spelled(spec, !long);
    if (spec.takes === "none") {
      if (inline !== undefined) throw usageError(decl, `${name} takes no value.`);
      setFlag(spec, true, !long);
    } else if (inline !== undefined) {
      setFlag(spec, read(spec, inline, !long), !long);
    } else if (spec.takes === "value") {
      const next = words[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) throw usageError(decl, `${name} needs a value (${spec.valueName ?? "VALUE"}).`);
      setFlag(spec, read(spec, next, !long), !long);
      i++;
    } else {
      setFlag(spec, spec.bare !== undefined ? read(spec, spec.bare, !long) : true, !long);
    }
  }
  // What was not given: a switch is false, a repeatable flag empty, a flag with a default takes it.
  for (const spec of specs) {
    if (flags[spec.name] !== undefined) continue;
    if (spec.takes === "none") flags[spec.name] = false;
    else if (spec.repeatable) flags[spec.name] = [];
    else if (spec.default !== undefined) flags[spec.name] = read(spec, spec.default, false);
  }

  for (const p of positionalSpecs) {
    if (p.rest) {
      positionals[p.name] = free.splice(0);
      if (!p.optional && (positionals[p.name] as string[]).length === 0) throw usageError(decl, `${p.name} is missing.`);
      continue;
    }
    const value = free.shift();
    if (value === undefined) {
      if (!p.optional) throw usageError(decl, `${p.name} is missing.`);
      continue;
    }
    if (p.choices && !p.choices.includes(value)) throw usageError(decl, `${p.name} must be one of ${p.choices.join(", ")}, not "${value}".`);
    positionals[p.name] = value;
  }
  if (free.length) throw usageError(decl, `unexpected ${free.length === 1 ? "word" : "words"}: ${free.join(" ")}.`);
  return { flags, positionals };
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const at = s.indexOf(sep);
  return at < 0 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)];
}

// ---- value parsers shared by magics ----------------------------------------------------------------------

const UNITS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds → milliseconds. */
export function parseDuration(text: string, what = "duration"): number {
  const m = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|min|h)?$/.exec(text.trim());
  if (!m) throw new MagicUsageError(`${what} "${text}" is not a duration; write it like 500ms, 5s, 2m or 1h.`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]);
}

/** `1000/s`, `60/m`, or a bare number per second → events per second. */
export function parseRate(text: string, what = "rate"): number {
  const m = /^(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|m|min))?$/.exec(text.trim());
  if (!m) throw new MagicUsageError(`${what} "${text}" is not a rate; write it like 1000/s or 600/m.`);
  const perMinute = m[2] === "m" || m[2] === "min";
  return perMinute ? Number(m[1]) / 60 : Number(m[1]);
}

export function parsePositiveInt(text: string, what = "number"): number {
  const n = Number(text.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0) throw new MagicUsageError(`${what} must be a positive whole number, not "${text}".`);
  return n;
}

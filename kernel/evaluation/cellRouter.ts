/**
 * The cell router: a `%%magic` cell goes to that magic; a cell of nothing but line magics runs them in order
 * without ever touching the TypeScript compiler; anything else is TypeScript, with its magic lines rewritten
 * into awaited calls (`const t = %events p1` binds the magic's value).
 */
import { MagicUsageError, type MagicCall, type MagicContext, type Magic } from "../magics/declaration";
import { helpText } from "../magics/help";
import { closest, parseArgs, splitWords } from "../magics/parser";
import { completeArgs } from "../magics/completion";
import { beamCompletionSources } from "../beam/completionSources";
import { CELL_MAGIC, classifyLines, magicStart, maskMagics, parseMagicLine, rewriteMagics, topLevelLines } from "./cellSource";
import { interruptedException } from "./interrupted";
import type { CellEnvironment, CellError, CellKernel, CellOutcome, Completion } from "./types";

export async function runCell(source: string, env: CellEnvironment): Promise<CellOutcome> {
  // The cell running now: `__lumin_magic__` calls from its TypeScript run in its environment.
  env.state.cell = env;
  try {
    const value = await routeCell(source, env);
    return value === undefined ? { status: "ok", hasValue: false } : { status: "ok", hasValue: true, value };
  } catch (e) {
    return { status: "error", ...toCellError(e) };
  }
}

/** Runs a cell and resolves with its value; throws what the cell threw. */
async function routeCell(source: string, env: CellEnvironment): Promise<unknown> {
  const lines = source.split("\n");
  const first = lines.findIndex((l) => l.trim() !== "");
  if (first < 0) return undefined;
  const cellMagic = CELL_MAGIC.exec(lines[first]);
  if (cellMagic) {
    const [, name, help, argText = ""] = cellMagic;
    return runMagic(name, "cell", argText, env, { help: Boolean(help), body: lines.slice(first + 1).join("\n"), statement: true });
  }
  const kinds = classifyLines(source);
  const magicOnly = kinds.includes("magic") && kinds.every((k) => k !== "code");
  if (magicOnly) {
    let value: unknown;
    for (let i = 0; i < lines.length; i++) {
      if (kinds[i] !== "magic") continue;
      const m = parseMagicLine(lines[i])!;
      value = await runMagic(m.name, "line", m.argText, env, { help: m.help, statement: true });
    }
    return value;
  }
  const outcome = await env.ts.run(rewriteMagics(source), env.signal);
  if (outcome.status === "error") throw Object.assign(new Error(outcome.evalue), { name: outcome.ename, cellError: outcome });
  if (outcome.status === "aborted") throw interruptedException("before");
  return outcome.hasValue ? outcome.value : undefined;
}

interface RunOptions {
  help?: boolean;
  body?: string;
  /** Written as a statement (not bound): a magic that shows its own output then yields no cell value. */
  statement?: boolean;
}

async function runMagic(name: string, kind: "line" | "cell", argText: string, env: CellEnvironment, options: RunOptions): Promise<unknown> {
  const decl = lookup(name, kind, env);
  const wantsHelp = options.help || wantsHelpFlag(decl, argText);
  if (wantsHelp) {
    const text = helpText(decl);
    if (options.help) env.io.page(text);
    else env.io.stream("stdout", `${text}\n`);
    return undefined;
  }
  const call: MagicCall = { name, kind, args: parseArgs(decl, argText), argText, body: options.body };
  const before = env.state.asking;
  const magic = kind === "cell" ? `%%${name} ${argText}`.trimEnd() + `\n${options.body ?? ""}` : `%${name} ${argText}`.trimEnd();
  env.state.asking = { magic, cell: env.cellNumber, cellId: env.cellId };
  env.state.recording.tape?.magicStarted();
  let value: unknown;
  try {
    value = await decl.run(call, magicContext(env));
  } finally {
    env.state.asking = before;
  }
  return options.statement && !decl.showsResult ? undefined : value;
}

function lookup(name: string, kind: "line" | "cell", env: CellEnvironment): Magic {
  const decl = env.state.magics.find(name);
  const prefix = kind === "cell" ? "%%" : "%";
  if (!decl) {
    const hint = closest(name, env.state.magics.all().map((m) => m.name));
    throw new MagicUsageError(`${prefix}${name} is not a magic${hint ? ` — did you mean ${prefix}${hint}?` : ""}. %lsmagic lists them all.`);
  }
  if (kind === "cell" && decl.kind === "line") throw new MagicUsageError(`%${name} is a line magic: write it on one line as %${name} …, not %%${name}.`);
  if (kind === "line" && decl.kind === "cell") throw new MagicUsageError(`%%${name} is a cell magic: put %%${name} on the first line of the cell and the code below it.`);
  return decl;
}

function wantsHelpFlag(decl: Magic, argText: string): boolean {
  let words: string[];
  try {
    words = splitWords(argText);
  } catch {
    return false;
  }
  // A magic that takes free text (%time's statement) only treats a leading -h as a request for help.
  const takesText = (decl.positionals ?? []).some((p) => p.rest);
  return takesText ? words[0] === "-h" || words[0] === "--help" : words.includes("-h") || words.includes("--help");
}

function magicContext(env: CellEnvironment): MagicContext {
  const { state } = env;
  return {
    io: env.io,
    signal: env.signal,
    magics: state.magics,
    report: state.report,
    recording: state.recording,
    get beam() {
      return state.beam;
    },
    run: (code) => routeCell(code, env),
  };
}

/** `__lumin_magic__(name, args, statement?)`: what a magic line inside TypeScript becomes. */
export function magicFromTypeScript(state: CellKernel, name: string, argText: string, statement = false): Promise<unknown> {
  const env = state.cell;
  if (!env) return Promise.reject(new Error(`%${name} can only run inside a cell`));
  return runMagic(name, "line", argText, env, { statement });
}

export function toCellError(e: unknown): CellError {
  const err = e as Error & { cellError?: CellError };
  if (err?.cellError) return { ename: err.cellError.ename, evalue: err.cellError.evalue, traceback: err.cellError.traceback };
  if (e instanceof MagicUsageError || err?.name === "UsageError") return { ename: "UsageError", evalue: err.message, traceback: [err.message] };
  if (err instanceof Error) return { ename: err.name, evalue: err.message, traceback: [`${err.name}: ${err.message}`] };
  return { ename: "Error", evalue: String(e), traceback: [String(e)] };
}

// ---- completion, inspection, completeness ----------------------------------------------------------------

export async function completeCell(source: string, cursor: number, env: CellEnvironment): Promise<Completion> {
  const lineStart = source.lastIndexOf("\n", cursor - 1) + 1;
  const line = source.slice(lineStart, cursor);
  // A magic starts a line, or follows `const x =` (bound into TypeScript).
  const topLevel = topLevelLines(source)[source.slice(0, lineStart).split("\n").length - 1];
  const at = topLevel ? magicStart(line) : -1;
  if (at >= 0) return completeMagic(line.slice(at), lineStart + at, cursor, env);
  // The body of a %%magic cell is not TypeScript (Elixir, HTML…): nothing to offer from the compiler.
  if (isCellMagic(source)) return { start: cursor, end: cursor, matches: [] };
  return env.ts.complete(maskMagics(source), cursor);
}

/** Completion inside a magic (`text` starts at its `%`): its name, or its arguments from its declaration. */
async function completeMagic(text: string, offset: number, cursor: number, env: CellEnvironment): Promise<Completion> {
  const nameOnly = /^(%%?)([\w-]*)$/.exec(text);
  if (nameOnly) {
    const [, prefix, partial] = nameOnly;
    const kinds = prefix === "%%" ? ["cell", "both"] : ["line", "both"];
    const matches = env.state.magics.all().filter((m) => kinds.includes(m.kind) && m.name.startsWith(partial)).map((m) => prefix + m.name);
    return { start: offset, end: cursor, matches };
  }
  const magic = /^%%?([\w-]+)\s+(.*)$/.exec(text);
  const decl = magic && env.state.magics.find(magic[1]);
  if (!decl || !magic) return { start: cursor, end: cursor, matches: [] };
  const word = /(\S*)$/.exec(magic[2])![1];
  const start = cursor - word.length;
  const argsBefore = magic[2].slice(0, magic[2].length - word.length);
  const sources = beamCompletionSources(() => env.state.beam);
  return { start, end: cursor, matches: await completeArgs(decl, argsBefore, word, sources) };
}

const isCellMagic = (source: string) => CELL_MAGIC.test(source.split("\n").find((l) => l.trim() !== "") ?? "");

export async function inspectCell(source: string, cursor: number, env: CellEnvironment): Promise<string | null> {
  const lineStart = source.lastIndexOf("\n", cursor - 1) + 1;
  const lineEnd = source.indexOf("\n", cursor);
  const line = source.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  const at = magicStart(line);
  const m = at >= 0 && cursor >= lineStart + at ? /^%%?([\w-]+)/.exec(line.slice(at)) : null;
  const decl = m && env.state.magics.find(m[1]);
  if (decl) return helpText(decl);
  if (isCellMagic(source)) return null;
  return env.ts.inspect(maskMagics(source), cursor);
}

export async function isCellComplete(source: string, env: CellEnvironment): Promise<{ status: "complete" | "incomplete" | "invalid"; indent?: string }> {
  if (isCellMagic(source)) return { status: "complete" };
  const kinds = classifyLines(source);
  if (kinds.every((k) => k !== "code")) return { status: "complete" };
  const r = await env.ts.isComplete(rewriteMagics(source));
  return r.completed ? { status: "complete" } : { status: "incomplete", indent: r.indent ?? "" };
}

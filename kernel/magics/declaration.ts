/**
 * What a magic is: a declaration (name, kind, arguments, help) and a handler.
 *
 * Modelled on IPython's `magic_arguments`: usage text, `-h`/`--help`, `%name?`, completion of flags and
 * the error for a malformed call are all generated from the declaration by kernel/magics/parser.ts and
 * kernel/magics/help.ts — a magic never writes them itself. To add a magic, copy a neighbour in magics/, declare it,
 * and add it to the list in magics/index.ts.
 */
import type { CellIO } from "../evaluation/cellIO";
import type { BeamSession } from "../beam/session";
import type { ReportLog } from "../report/reportLog";
import type { TapeSlot } from "../recording/tape";

export type MagicKind = "line" | "cell" | "both";

/**
 * How a flag's text is read, as IPython's magic_arguments `type=`: the handler gets the value, never the text.
 * `text`: as written; `int`: a positive whole number (`10_000` too); `duration`: `500ms`, `5s`, `2m`, `1h` or
 * seconds, as milliseconds; `rate`: `1000/s`, `60/m` or a number, as events per second.
 */
export type FlagType = "text" | "int" | "duration" | "rate";

/**
 * Where completion finds a value the user is typing: the kernel's probe (and capture) names, modules and
 * functions on the attached node (`Mod.fun`), or the attached nodes.
 */
export type CompletionSource = "probes" | "functions" | "nodes";

export interface FlagSpec {
  /** Long name without dashes: `cookie-env` is written `--cookie-env`. */
  readonly name: string;
  /** One-letter alias without the dash: `n` is written `-n`. */
  readonly short?: string;
  /** `none`: a switch; `value`: needs a value (`--limit 10` or `--limit=10`); `optional`: `--wait` or `--wait=5s`. */
  readonly takes: "none" | "value" | "optional";
  /** How the value is read (default `text`). */
  readonly type?: FlagType;
  /** The value when the flag is not given, written as a user would write it (`"60s"`); shown in the help. */
  readonly default?: string;
  /** For `takes: "optional"`: the value when the flag is given bare (`--wait` = `--wait=60s`); else `true`. */
  readonly bare?: string;
  /** Shown in usage, e.g. `N`, `DURATION`. */
  readonly valueName?: string;
  readonly help: string;
  /** Allowed values; anything else is a usage error naming the flag. */
  readonly choices?: readonly string[];
  /** May it appear more than once? Its value is then an array (empty when not given). */
  readonly repeatable?: boolean;
  /** Where completion finds its values (besides `choices`). */
  readonly completes?: CompletionSource;
}

export interface PositionalSpec {
  readonly name: string;
  readonly help: string;
  readonly optional?: boolean;
  /** Takes all the remaining words (at most one positional, the last). */
  readonly rest?: boolean;
  /** With `rest`: once it starts, the words are its own, options included (code such as `fn x -> x end`). */
  readonly raw?: boolean;
  readonly choices?: readonly string[];
  /** Where completion finds its values (besides `choices`). */
  readonly completes?: CompletionSource;
}

// ---- the values a declaration's handler gets, typed from the declaration ---------------------------------

interface ValueOfType {
  text: string;
  int: number;
  duration: number;
  rate: number;
}
type TypeOf<F> = F extends { readonly type: infer T extends FlagType } ? T : "text";
type One<F> = F extends { readonly choices: readonly (infer C)[] } ? C : ValueOfType[TypeOf<F>];
type Absent<F> = F extends { readonly default: string } ? never : undefined;

/** A flag's value: a switch is a boolean; a repeatable flag an array; otherwise the value, or its default. */
export type FlagValue<F extends FlagSpec> = F extends { readonly takes: "none" }
  ? boolean
  : F extends { readonly repeatable: true }
    ? One<F>[]
    : F extends { readonly takes: "optional" }
      ? One<F> | (F extends { readonly bare: string } ? never : true) | Absent<F>
      : One<F> | Absent<F>;

export type FlagValues<Fs extends readonly FlagSpec[]> = { readonly [F in Fs[number] as F["name"]]: FlagValue<F> };

type PositionalValue<P> = P extends { readonly rest: true } ? string[] : P extends { readonly optional: true } ? string | undefined : string;
export type PositionalValues<Ps extends readonly PositionalSpec[]> = { readonly [P in Ps[number] as P["name"]]: PositionalValue<P> };

/** Any flag's value, as the parser gives it before a declaration's types are known. */
export type AnyFlagValue = string | number | boolean | (string | number)[] | undefined;

/** The parsed arguments: positionals by name, flags by long name, each already of its declared type. */
export interface MagicArgs<F = Readonly<Record<string, AnyFlagValue>>, P = Readonly<Record<string, string | string[] | undefined>>> {
  readonly positionals: P;
  readonly flags: F;
}

export interface MagicCall<F = Readonly<Record<string, AnyFlagValue>>, P = Readonly<Record<string, string | string[] | undefined>>> {
  readonly name: string;
  /** How it was written: `%name` (line) or `%%name` (cell). */
  readonly kind: "line" | "cell";
  readonly args: MagicArgs<F, P>;
  /** The argument text as written, after the magic's name. */
  readonly argText: string;
  /** For a cell magic: the cell's body (the lines after the first). */
  readonly body?: string;
}

/** The magics a kernel knows, as a handler sees them (kernel/magics/registry.ts keeps them). */
export interface MagicList {
  all(): readonly Magic[];
  find(name: string): Magic | undefined;
}

/** What a handler gets: the cell's I/O, and the parts of the kernel a magic may use. */
export interface MagicContext {
  readonly io: CellIO;
  /** The kernel's view of the BEAM: nodes, the bridge, probes (made on first use). */
  readonly beam: BeamSession;
  /** The charts and tables shown so far (%export). */
  readonly report: ReportLog;
  /** The magics this kernel knows (%lsmagic lists them). */
  readonly magics: MagicList;
  /** Run code as a cell would (TypeScript or magics), in this cell, and resolve with its value (%time). */
  run(code: string): Promise<unknown>;
  /** Aborted when the user interrupts the cell. */
  readonly signal: AbortSignal;
  /** %record / %replay: the tape in use, and how to start one. */
  readonly recording: TapeSlot;
}

/** A usage error: the parser and handlers throw it; the kernel shows it as one short paragraph. */
export class MagicUsageError extends Error {
  override readonly name = "UsageError";
}

/** A magic as the kernel keeps it (the registry, the parser, help and completion read only this). */
export interface MagicDeclaration<Fs extends readonly FlagSpec[] = readonly FlagSpec[], Ps extends readonly PositionalSpec[] = readonly PositionalSpec[]> {
  readonly name: string;
  readonly kind: MagicKind;
  /** One line, shown by `%lsmagic` and at the top of the help. */
  readonly summary: string;
  /** More help: what it does, examples. Plain text. Flags' defaults are shown from the declaration. */
  readonly details?: string;
  readonly positionals?: Ps;
  readonly flags?: Fs;
  /**
   * When the magic stands alone as a statement, is its return value the cell's result (`execute_result`)?
   * Magics that show their own output (a live line, printed text) return their value only for binding:
   * `const x = %name args`.
   */
  readonly showsResult: boolean;
  run(call: MagicCall<FlagValues<Fs>, PositionalValues<Ps>>, ctx: MagicContext): Promise<unknown>;
}

/** What the registry holds: a declaration with its types erased. */
export interface Magic extends Omit<MagicDeclaration, "run"> {
  run(call: MagicCall, ctx: MagicContext): Promise<unknown>;
}

/**
 * Declare a magic: its flags' and positionals' names and types flow into the handler's `call.args`, so
 * `--limit` declared `type: "int"` arrives as a number, a switch as a boolean, a defaulted flag never
 * undefined.
 */
export function defineMagic<const Fs extends readonly FlagSpec[] = [], const Ps extends readonly PositionalSpec[] = []>(decl: MagicDeclaration<Fs, Ps>): Magic {
  return decl as unknown as Magic;
}

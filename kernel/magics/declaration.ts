/**
 * What a magic is: a declaration (name, kind, arguments, help) and a handler.
 *
 * Modelled on IPython's `magic_arguments`: usage text, `-h`/`--help`, `%name?`, completion of flags and
 * the error for a malformed call are all generated from the declaration by kernel/magics/parser.ts and
 * kernel/magics/help.ts — a magic never writes them itself. To add a magic, copy a neighbour in magics/, declare it,
 * and add it to the list in magics/index.ts.
 */
import type { CellIO } from "../evaluation/cellIO";
import type { MagicRegistry } from "./registry";

export type MagicKind = "line" | "cell" | "both";

export interface FlagSpec {
  /** Long name without dashes: `cookie-env` is written `--cookie-env`. */
  readonly name: string;
  /** One-letter alias without the dash: `n` is written `-n`. */
  readonly short?: string;
  /** `none`: a switch; `value`: needs a value (`--limit 10` or `--limit=10`); `optional`: `--wait` or `--wait=5s`. */
  readonly takes: "none" | "value" | "optional";
  /** Shown in usage, e.g. `N`, `DURATION`. */
  readonly valueName?: string;
  readonly help: string;
  /** Allowed values; anything else is a usage error naming the flag. */
  readonly choices?: readonly string[];
  /** May it appear more than once? Its value is then an array. */
  readonly repeatable?: boolean;
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
}

/** The parsed arguments: positionals by name, flags by long name (`true` for a switch). */
export interface MagicArgs {
  readonly positionals: Readonly<Record<string, string | string[] | undefined>>;
  readonly flags: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

export interface MagicCall {
  readonly name: string;
  /** How it was written: `%name` (line) or `%%name` (cell). */
  readonly kind: "line" | "cell";
  readonly args: MagicArgs;
  /** The argument text as written, after the magic's name. */
  readonly argText: string;
  /** For a cell magic: the cell's body (the lines after the first). */
  readonly body?: string;
}

/** What a handler gets: the cell's I/O, and the services a magic may use. */
export interface MagicContext {
  readonly io: CellIO;
  /** Services registered by the kernel at start-up (the BEAM client, the probe registry, …), by name. */
  service<T>(name: string): T;
  /** Aborted when the user interrupts the cell. */
  readonly signal: AbortSignal;
  /** The magics this kernel knows (%lsmagic lists them). */
  readonly magics: MagicRegistry;
}

/** A usage error: the parser and handlers throw it; the kernel shows it as one short paragraph. */
export class MagicUsageError extends Error {
  override readonly name = "UsageError";
}

export interface MagicDeclaration {
  readonly name: string;
  readonly kind: MagicKind;
  /** One line, shown by `%lsmagic` and at the top of the help. */
  readonly summary: string;
  /** More help: what it does, defaults, examples. Plain text. */
  readonly details?: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly flags?: readonly FlagSpec[];
  /**
   * When the magic stands alone as a statement, is its return value the cell's result (`execute_result`)?
   * Magics that show their own output (a live line, printed text) return their value only for binding:
   * `const x = %name args`.
   */
  readonly showsResult: boolean;
  run(call: MagicCall, ctx: MagicContext): Promise<unknown>;
  /**
   * Dynamic completion of a word the user is typing (e.g. module names from the node). Flags and
   * positional `choices` are completed from the declaration without this.
   */
  complete?(word: string, call: { argText: string; position: number }, ctx: Pick<MagicContext, "service">): Promise<string[]>;
}

/**
 * The seam between dispatch (which speaks Jupyter messages) and evaluation (which runs cells).
 *
 * kernel/dispatch/ builds a CellEnvironment per execute_request and calls the router in
 * kernel/evaluation/cellRouter.ts; the router sends magic lines to the magic registry and TypeScript to the
 * TsEvaluator. Data flows one way: the outcome comes back, and dispatch turns it into messages.
 */
import type { CellIO } from "./cellIO";
import type { MagicRegistry } from "../magics/registry";

/** A failure shown to the user as one `error` message. */
export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type CellOutcome =
  | { status: "ok"; hasValue: false }
  | { status: "ok"; hasValue: true; value: unknown }
  | ({ status: "error" } & CellError)
  | { status: "aborted" };

/** TypeScript evaluation (tslab's converter and executor, kernel/evaluation/tsEvaluator.ts). */
export interface TsEvaluator {
  /** Type-check against earlier cells, compile and run; resolves with the last expression's value. */
  run(source: string, signal: AbortSignal): Promise<CellOutcome>;
  complete(source: string, cursor: number): Promise<Completion>;
  inspect(source: string, cursor: number): Promise<string | null>;
}

export interface Completion {
  /** Replace source[start, end) with one of `matches`. */
  start: number;
  end: number;
  matches: string[];
}

/** Named services shared with magics (e.g. "beam": the BEAM client); registered once at start-up. */
export interface Services {
  get<T>(name: string): T;
  register(name: string, factory: () => unknown): void;
}

export interface CellEnvironment {
  readonly io: CellIO;
  readonly ts: TsEvaluator;
  readonly services: Services;
  /** The magics this kernel knows. */
  readonly magics: MagicRegistry;
  readonly signal: AbortSignal;
}

/**
 * The seam between dispatch (which speaks Jupyter messages) and evaluation (which runs cells).
 *
 * kernel/dispatch/ builds a CellEnvironment per execute_request and calls the router in
 * kernel/evaluation/cellRouter.ts; the router sends magic lines to the magic registry and TypeScript to the
 * TsEvaluator. Data flows one way: the outcome comes back, and dispatch turns it into messages.
 */
import type { CellIO } from "./cellIO";
import type { KernelState } from "../kernelState";

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

export interface CellEnvironment {
  readonly io: CellIO;
  readonly ts: TsEvaluator;
  /** The kernel's state: its magics, BEAM session, report log… */
  readonly state: KernelState;
  readonly signal: AbortSignal;
}

/**
 * The seam between dispatch (which speaks Jupyter messages) and evaluation (which runs cells).
 *
 * kernel/dispatch/ builds a CellEnvironment per execute_request and calls the router in
 * kernel/evaluation/cellRouter.ts; the router sends magic lines to the magic registry and TypeScript to the
 * TsEvaluator. Data flows one way: the outcome comes back, and dispatch turns it into messages.
 */
import type { CellIO } from "./cellIO";
import type { BeamSession } from "../beam/session";
import type { MagicRegistry } from "../magics/registry";
import type { ReportLog } from "../report/reportLog";

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
  /** Is this code a whole statement (a console frontend asks before running it)? */
  isComplete(source: string): Promise<{ completed: boolean; indent?: string }>;
  /** The kernel started running a cell of any kind (true) or finished it (false): start-up work waits for idle. */
  kernelBusy(busy: boolean): void;
}

export interface Completion {
  /** Replace source[start, end) with one of `matches`. */
  start: number;
  end: number;
  matches: string[];
}

/** What running a cell needs of the kernel's state (kernel/kernelState.ts holds it, with the rest). */
export interface CellKernel {
  readonly magics: MagicRegistry;
  /** The charts and tables shown so far (%export). */
  readonly report: ReportLog;
  /** The kernel's view of the BEAM (made on first use). */
  readonly beam: BeamSession;
  /** The cell running now: `%magic` lines inside its TypeScript run in its environment. */
  cell: CellEnvironment | undefined;
  /** %record / %replay: the tape in use, and how to start one. */
  readonly recording: import("../recording/tape").TapeSlot;
  /** The magic running now and its cell (a recording keys requests by it). */
  asking: { magic: string; cell?: number; cellId?: string } | undefined;
}

export interface CellEnvironment {
  readonly io: CellIO;
  readonly ts: TsEvaluator;
  /** The kernel's state: its magics, BEAM session, report log… */
  readonly state: CellKernel;
  readonly signal: AbortSignal;
  /** The cell's execution count, and the nbformat cell id the frontend sent (if any). */
  readonly cellNumber?: number;
  readonly cellId?: string;
}

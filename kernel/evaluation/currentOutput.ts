/**
 * The output of the cell running now (or, after it ends, the last one: output from timers and callbacks goes
 * where the user last looked, as in IPython), for the cell scope — display(), console.log, predict() — which
 * has no parameter to receive the kernel's state through. It is read from the kernel's state, bound here once
 * by kernel/main.ts.
 */
import type { CellIO } from "./cellIO";

interface CellScopeState {
  readonly output: CellIO | undefined;
  onCellStart(listener: (io: CellIO) => void): () => void;
  /** Under %record or %replay: the tape in use. */
  readonly tape?: { readonly mode: "record" | "replay" } | undefined;
}
let state: CellScopeState | undefined;

export function bindCellScope(kernel: CellScopeState): void {
  state = kernel;
}

/** Called with each new cell's output as the cell starts (a late display update can ride on it). */
export function onCellStart(listener: (io: CellIO) => void): () => void {
  if (!state) throw new Error("the cell scope is not bound to a kernel yet");
  return state.onCellStart(listener);
}

export function currentOutput(): CellIO {
  const io = state?.output;
  if (!io) throw new Error("no cell has run yet");
  return io;
}

export function hasCurrentOutput(): boolean {
  return state?.output !== undefined;
}

/** Is this kernel replaying a recording (%replay)? */
export function isReplaying(): boolean {
  return state?.tape?.mode === "replay";
}

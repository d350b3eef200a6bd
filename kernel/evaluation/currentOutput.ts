/**
 * The output of the cell running now (or, after it ends, the last one: output from timers and callbacks goes
 * where the user last looked, as in IPython), for the cell scope — display(), console.log, predict() — which
 * has no parameter to receive the kernel's state through. It is read from the kernel's state, bound here once
 * by kernel/main.ts.
 */
import type { CellIO } from "./cellIO";

let state: { readonly output: CellIO | undefined } | undefined;

export function bindCellScope(kernel: { readonly output: CellIO | undefined }): void {
  state = kernel;
}

export function currentOutput(): CellIO {
  const io = state?.output;
  if (!io) throw new Error("no cell has run yet");
  return io;
}

export function hasCurrentOutput(): boolean {
  return state?.output !== undefined;
}

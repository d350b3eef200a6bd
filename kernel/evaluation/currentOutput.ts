/**
 * The output of the cell running now (or, after it ends, the last one: output from timers and callbacks goes
 * where the user last looked, as in IPython).
 */
import type { CellIO } from "./cellIO";

let current: CellIO | undefined;

export function setCurrentOutput(io: CellIO): void {
  current = io;
}

export function currentOutput(): CellIO {
  if (!current) throw new Error("no cell has run yet");
  return current;
}

export function hasCurrentOutput(): boolean {
  return current !== undefined;
}

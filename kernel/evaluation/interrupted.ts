/**
 * What an interrupted cell says. One wording for every path (TypeScript, input requests, magics waiting on a
 * node), so the user reads the same sentence whatever was running.
 */
import type { CellError } from "./types";

/** `before`: the interrupt came while the cell waited to run (the compiler starting, say): nothing in it ran. */
export function interruptedError(when: "before" | "running"): CellError {
  const evalue = when === "before" ? "stopped at your request before it ran; nothing in this cell was executed" : "stopped at your request while it ran; what it did until then stays done";
  return { ename: "Interrupted", evalue, traceback: [`Interrupted: ${evalue}`] };
}

/** An error to throw from code that notices the interrupt (its name makes the cell's error an interrupt). */
export function interruptedException(when: "before" | "running" = "running"): Error {
  return Object.assign(new Error(interruptedError(when).evalue), { name: "Interrupted", interruptedWhen: when });
}

/**
 * Lets a magic run code as a cell would (%time runs its statement this way). The router installs the
 * runner at load; the indirection keeps magics from importing the router that imports them.
 */
import type { MagicContext } from "../magics/declaration";

type Runner = (code: string, ctx: MagicContext) => Promise<unknown>;
let runner: Runner | undefined;

export function setNestedRunner(r: Runner): void {
  runner = r;
}

export function runNested(code: string, ctx: MagicContext): Promise<unknown> {
  if (!runner) throw new Error("the cell router is not loaded");
  return runner(code, ctx);
}

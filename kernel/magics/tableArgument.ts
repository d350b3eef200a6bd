/**
 * The TABLE argument of %chart, %explain, %capture and the other magics that take a table: a probe's name (its
 * events, straight from the probe store, so a magic-only cell never waits for the TypeScript compiler) or else
 * a TypeScript expression naming a table. By name, a table is the one `%events NAME` shows: a message probe's
 * timeout rows are left out (counted in its caption); `const t = %events NAME --timeouts` and then `t` keeps them.
 */
import { MagicUsageError, type MagicContext } from "./declaration";
import { isTable } from "../display/tableBundle";
import { withoutTimeoutRows } from "../tables/tables";

export async function resolveTable(text: string, magic: string, ctx: MagicContext): Promise<any> {
  const store = ctx.beam.probes;
  if (store.has(text)) return withoutTimeoutRows((await store.table(text)) as never, text);
  let value: unknown;
  try {
    value = await ctx.run(text);
  } catch (e) {
    throw new MagicUsageError(`%${magic}: ${text} is neither a probe (%probes lists them) nor a table in scope: ${(e as Error).message}`);
  }
  if (!isTable(value)) throw new MagicUsageError(`%${magic}: ${text} is not a table (it is ${value === null ? "null" : typeof value}); pass a probe's name or an Arquero table.`);
  return value;
}

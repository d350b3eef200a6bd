/** %events: what a probe saw, as an Arquero table in its kind's schema (`const t = %events p1`). */
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { MAX_PAGE_ROWS, showingPage, type TableLike } from "../kernel/display/tableBundle";
import { LIMITS } from "../kernel/display/limits";
import { withoutTimeoutRows } from "../kernel/tables/tables";
import type { ColumnTable } from "../kernel/analysis/aq";

export const events = defineMagic({
  name: "events",
  kind: "line",
  summary: "A probe's events as an Arquero table (one row per completed call, message, …).",
  details: `--wait waits until the probe ends (or DURATION passes, default 60s) before building the table.
The table's metadata (probe, node, events seen, dropped exactly, why it ended) is shown above it.
A message probe's timeout rows (each a receive … after that timed out) are left out unless --timeouts; the
caption says how many. %chart, %explain and %capture by the probe's name leave them out too; to keep them,
name the table: const t = %events NAME --timeouts, then %capture save t FILE.

Examples:
  %events p1
  const calls = %events orders --wait=10s
  %events orders --rows 100
  %events inbox --timeouts`,
  positionals: [{ name: "NAME", help: "the probe (%probes lists them)", completes: "probes" }],
  flags: [
    { name: "wait", takes: "optional", type: "duration", bare: "60s", valueName: "DURATION", help: "wait for the probe to end first" },
    { name: "rows", takes: "value", type: "int", valueName: "N", help: "show the first N rows (default 20, at most 1000); show(t, { offset, limit }) pages further" },
    { name: "timeouts", takes: "none", help: "messages: keep the rows of receive … after timeouts (left out by default, counted in the caption)" },
  ],
  showsResult: true,
  async run({ args }, ctx) {
    const name = args.positionals.NAME;
    const session = ctx.beam;
    if (!session.probes.has(name)) throw new MagicUsageError(`%events: there is no probe named ${name} (%probes lists them; %capture load reads a saved one).`);
    if (args.flags.wait !== undefined && (session.probes.get(name) || session.probes.group(name))) {
      await session.probes.waitForEnd(name, args.flags.wait, ctx.signal);
    }
    const rows = args.flags.rows ?? LIMITS.tableRows;
    if (rows < 1 || rows > MAX_PAGE_ROWS) throw new MagicUsageError(`%events: --rows takes 1 to ${MAX_PAGE_ROWS} rows (got ${rows}); for more, page with show(t, { offset, limit }).`);
    const all = (await session.probes.table(name)) as ColumnTable;
    const table = args.flags.timeouts ? all : withoutTimeoutRows(all, name);
    // Always set: a loaded capture is the same table each time, and should not keep an earlier --rows.
    return showingPage(table as TableLike, { limit: rows });
  },
});

/** %events: what a probe saw, as an Arquero table in its kind's schema (`const t = %events p1`). */
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";

export const events = defineMagic({
  name: "events",
  kind: "line",
  summary: "A probe's events as an Arquero table (one row per completed call, message, …).",
  details: `--wait waits until the probe ends (or DURATION passes, default 60s) before building the table.
The table's metadata (probe, node, events seen, dropped exactly, why it ended) is shown above it.

Examples:
  %events p1
  const calls = %events orders --wait=10s`,
  positionals: [{ name: "NAME", help: "the probe (%probes lists them)", completes: "probes" }],
  flags: [{ name: "wait", takes: "optional", type: "duration", bare: "60s", valueName: "DURATION", help: "wait for the probe to end first" }],
  showsResult: true,
  async run({ args }, ctx) {
    const name = args.positionals.NAME;
    const session = ctx.beam;
    if (!session.probes.has(name)) throw new MagicUsageError(`%events: there is no probe named ${name} (%probes lists them; %capture load reads a saved one).`);
    if (args.flags.wait !== undefined && session.probes.get(name)) {
      await session.probes.waitForEnd(name, args.flags.wait, ctx.signal);
    }
    return session.probes.table(name);
  },
});

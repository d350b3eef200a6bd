/**
 * %capture: save a probe's table as an Apache Arrow file, or load one back — so an investigation can be
 * shared and re-run from its captures, without the node it was made on.
 */
import path from "node:path";
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { resolveTable } from "../kernel/magics/tableArgument";

export const capture = defineMagic({
  name: "capture",
  kind: "line",
  summary: "Save a probe's table as an Arrow file (pandas, polars, DuckDB read it), or load one back.",
  details: `save NAME FILE writes the table of probe NAME (or of a TypeScript expression) with its metadata;
terms keep their raw bytes. load FILE reads it back as the same table; --as NAME registers it, so %events,
%chart and %explain take NAME as if the probe had just run.

Examples:
  %capture save orders captures/orders.arrow
  const orders = %capture load captures/orders.arrow --as orders`,
  positionals: [
    { name: "ACTION", help: "save or load", choices: ["save", "load"] },
    { name: "ARGS", help: "save: NAME FILE; load: FILE", rest: true, completes: "probes" },
  ],
  flags: [{ name: "as", takes: "value", valueName: "NAME", help: "load: the name to register the table under" }],
  showsResult: true,
  async run({ args }, ctx) {
    const { saveCapture, loadCapture } = require("../kernel/tables/capture") as typeof import("../kernel/tables/capture");
    const words = args.positionals.ARGS;
    if (args.positionals.ACTION === "save") {
      if (words.length !== 2) throw new MagicUsageError("%capture save takes a probe's name (or a table expression) and a file: %capture save orders orders.arrow");
      const [name, file] = words;
      const table = await resolveTable(name, "capture", ctx);
      const bytes = saveCapture(table, path.resolve(file), "table", ctx.beam.redaction.policy);
      const { describePolicies } = require("../kernel/redaction/policy") as typeof import("../kernel/redaction/policy");
      const { tableMeta } = require("../kernel/tables/tableMeta") as typeof import("../kernel/tables/tableMeta");
      const redaction = describePolicies(tableMeta(table)?.redaction ?? [ctx.beam.redaction.policy]);
      ctx.io.stream("stdout", `Saved ${table.numRows().toLocaleString("en")} rows of ${name} to ${path.resolve(file)} (${bytes.toLocaleString("en")} bytes, Arrow IPC). Redaction ${redaction}.\n`);
      return path.resolve(file);
    }
    if (words.length !== 1) throw new MagicUsageError("%capture load takes one file: %capture load orders.arrow [--as NAME]");
    const { table, meta } = loadCapture(path.resolve(words[0]));
    const name = args.flags.as ?? (meta.probe ?? path.basename(words[0]).replace(/\.arrow$/, ""));
    ctx.beam.probes.addCapture(name, table);
    const { describePolicies } = require("../kernel/redaction/policy") as typeof import("../kernel/redaction/policy");
    const redaction = meta.redaction?.length ? ` Redaction ${describePolicies(meta.redaction)}.` : " (No redaction policy recorded: made before captures stated one.)";
    ctx.io.stream("stdout", `Loaded ${name}: ${table.numRows().toLocaleString("en")} rows of ${meta.kind}${meta.node ? ` captured on ${meta.node}` : ""} at ${meta.capturedAt}.${redaction}\n`);
    return table;
  },
});

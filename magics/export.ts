/** %export FILE.html: the charts and tables this kernel has shown, as one self-contained HTML report. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { htmlReport } from "../kernel/report/htmlReport";

export const exportReport = defineMagic({
  name: "export",
  kind: "line",
  summary: "Write the charts and tables shown so far to one self-contained, interactive HTML file.",
  details: `The file embeds vega, vega-lite and vega-embed, so it opens anywhere with no network. Charts stay
interactive (tooltips, brushes, sliders); tables show their first page. Relative paths are from the
notebook's directory.

Examples:
  %export report.html
  %export investigation.html --title "Latency spike in Shop.Orders"`,
  positionals: [{ name: "FILE", help: "the HTML file to write" }],
  flags: [{ name: "title", takes: "value", valueName: "TEXT", help: "the report's title (default: the file's name)" }],
  showsResult: false,
  async run({ args }, ctx) {
    const file = args.positionals.FILE;
    if (!/\.html?$/i.test(file)) throw new MagicUsageError(`%export: the report is HTML; name a .html file, not ${file}.`);
    const entries = ctx.report.entries();
    if (entries.length === 0) throw new MagicUsageError("%export: nothing to export yet — show a chart or a table first.");
    const title = args.flags.title ?? path.basename(file).replace(/\.html?$/i, "");
    const full = path.resolve(file);
    writeFileSync(full, htmlReport(title, entries));
    const charts = entries.filter((e) => e.kind === "chart").length;
    ctx.io.stream("stdout", `Wrote ${full}: ${charts} chart(s), ${entries.length - charts} table(s).\n`);
    return full;
  },
});

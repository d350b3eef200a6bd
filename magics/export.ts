/**
 * %export FILE.html: what this kernel has shown — charts, tables, %explain's sentences — as one self-contained
 * HTML report, in the notebook's own order with its markdown between them when the notebook file is known.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { htmlReport, type ReportItem } from "../kernel/report/htmlReport";
import type { ReportEntry } from "../kernel/report/reportLog";
import { resolveTable } from "../kernel/magics/tableArgument";
import type { MagicContext } from "../kernel/magics/declaration";

export const exportReport = defineMagic({
  name: "export",
  kind: "line",
  summary: "Write the charts, tables and %explain sentences shown so far, with the notebook's markdown, to one self-contained HTML file; or, with otel, call and message tables as OpenTelemetry spans.",
  details: `The file embeds vega, vega-lite and vega-embed, so it opens anywhere with no network. Charts stay
interactive (tooltips, brushes, sliders); tables show the page that was shown; %explain's sentences come
as a list. With the notebook file (--notebook, or the one JupyterLab names in JPY_SESSION_NAME), the report
follows the notebook: its markdown cells, and under each code cell what that cell showed when it last ran
here. --list numbers what was shown; --only picks from those numbers. Relative paths are from the
notebook's directory.

%export otel FILE [TABLE…] writes call and message tables (probe names or table expressions; default:
every call and message probe) as OpenTelemetry spans in OTLP JSON, one ExportTraceServiceRequest a line —
what the OpenTelemetry Collector's file receiver reads, and Jaeger and Tempo import. A call is a span whose
parent is the call enclosing it on its process; a call that raised has an exception event; node, pid and
Mod.fun/arity are attributes; times are in ns.

Examples:
  %export report.html
  %export investigation.html --title "Latency spike in Shop.Orders" --notebook latency-spike.ipynb
  %export --list
  %export summary.html --only 2,4-6
  %export otel spans.jsonl orders`,
  positionals: [
    { name: "FILE", help: "the HTML file to write (or otel, then the OTLP JSON file)", optional: true },
    { name: "TABLES", help: "otel: the OTLP file, then the tables to export (default: every call and message probe)", optional: true, rest: true, completes: "probes" },
  ],
  flags: [
    { name: "title", takes: "value", valueName: "TEXT", help: "the report's title (default: the file's name)" },
    { name: "notebook", takes: "value", valueName: "FILE.ipynb", help: "take the markdown and the order of cells from this notebook file" },
    { name: "only", takes: "value", valueName: "LIST", help: "only these of what was shown, by the numbers --list gives: 1,3,5-7" },
    { name: "list", takes: "none", help: "list what was shown, numbered, and write nothing" },
  ],
  showsResult: false,
  async run({ args }, ctx) {
    if (args.positionals.FILE === "otel") return exportOtel(args.positionals.TABLES ?? [], ctx);
    if (args.positionals.TABLES?.length) throw new MagicUsageError(`%export: one HTML file at a time; "${args.positionals.TABLES.join(" ")}" is extra (for spans: %export otel FILE [TABLE…]).`);
    const all = ctx.report.entries();
    if (args.flags.list) {
      if (all.length === 0) ctx.io.stream("stdout", "Nothing shown yet: show a chart, a table or %explain first.\n");
      else ctx.io.stream("stdout", `${all.map((e, i) => `${String(i + 1).padStart(3)}  ${e.kind.padEnd(5)}  ${e.title}`).join("\n")}\n`);
      return all.length;
    }
    const file = args.positionals.FILE;
    if (!file) throw new MagicUsageError("%export: name the HTML file to write, e.g. %export report.html (or --list to see what would go in).");
    if (!/\.html?$/i.test(file)) throw new MagicUsageError(`%export: the report is HTML; name a .html file, not ${file}.`);
    if (all.length === 0) throw new MagicUsageError("%export: nothing to export yet — show a chart, a table or %explain first.");
    const entries = args.flags.only ? pick(all, args.flags.only) : [...all];
    const notebook = args.flags.notebook ?? sessionNotebook();
    const items = notebook ? alongNotebook(entries, notebook) : entries;
    const title = args.flags.title ?? path.basename(file).replace(/\.html?$/i, "");
    const full = path.resolve(file);
    writeFileSync(full, htmlReport(title, items, ctx.beam.redaction.history()));
    const count = (kind: ReportItem["kind"]) => items.filter((e) => e.kind === kind).length;
    const extra = [count("text") ? `${count("text")} explanation(s)` : "", notebook ? `the markdown of ${path.basename(notebook)} (${count("markdown")} cell(s))` : ""].filter(Boolean);
    ctx.io.stream("stdout", `Wrote ${full}: ${count("chart")} chart(s), ${count("table")} table(s)${extra.length ? `, ${extra.join(", ")}` : ""}.\n`);
    return full;
  },
});

/** `%export otel FILE [TABLE…]`: call and message tables as OTLP JSON lines (kernel/report/otlp.ts). */
async function exportOtel(words: string[], ctx: MagicContext): Promise<string> {
  const [file, ...names] = words;
  if (!file) throw new MagicUsageError("%export otel: name the file to write, e.g. %export otel spans.jsonl [TABLE…].");
  const store = ctx.beam.probes;
  const chosen = names.length ? names : store.all().filter((p) => p.kind === "calls" || p.kind === "messages").map((p) => p.name);
  if (chosen.length === 0) throw new MagicUsageError("%export otel: there is no call or message probe to export; arm one, or name a table: %export otel FILE TABLE.");
  const tables = await Promise.all(chosen.map(async (name) => ({ name, table: await resolveTable(name, "export", ctx) })));
  const { otlpTraces } = require("../kernel/report/otlp") as typeof import("../kernel/report/otlp");
  const { lines, spans, skipped } = otlpTraces(tables);
  const full = path.resolve(file);
  writeFileSync(full, lines.map((l) => `${l}\n`).join(""));
  for (const s of skipped) ctx.io.stream("stderr", `%export otel: left out ${s}\n`);
  ctx.io.stream("stdout", `Wrote ${full}: ${spans.toLocaleString("en")} span(s) from ${tables.length - skipped.length} table(s), OTLP JSON (${lines.length} line(s)).\n`);
  return full;
}

/** The entries numbered in `list` ("1,3,5-7", 1-based as --list shows them). */
function pick(all: readonly ReportEntry[], list: string): ReportEntry[] {
  const wanted = new Set<number>();
  for (const part of list.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new MagicUsageError(`%export: --only takes numbers and ranges from %export --list, like 1,3,5-7; "${part}" is neither.`);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (a < 1 || b > all.length || a > b) throw new MagicUsageError(`%export: --only ${part} is outside 1-${all.length} (%export --list numbers what was shown).`);
    for (let i = a; i <= b; i++) wanted.add(i);
  }
  return all.filter((_, i) => wanted.has(i + 1));
}

/** The notebook JupyterLab (jupyter_server 2) names when it starts the kernel, when it is there to read. */
function sessionNotebook(): string | undefined {
  const name = process.env.JPY_SESSION_NAME;
  return name && name.endsWith(".ipynb") && existsSync(name) ? name : undefined;
}

/**
 * The report in the notebook's order: each markdown cell, and under each code cell what it showed when it last
 * ran in this kernel (matched by its source). What was shown by code that is not in the notebook comes last.
 */
function alongNotebook(entries: ReportEntry[], notebook: string): ReportItem[] {
  let cells: { cell_type: string; source: string | string[] }[];
  try {
    cells = JSON.parse(readFileSync(notebook, "utf8")).cells;
    if (!Array.isArray(cells)) throw new Error("it has no cells");
  } catch (e) {
    throw new MagicUsageError(`%export: could not read the notebook ${notebook} (${(e as Error).message}); save it, or leave out --notebook.`);
  }
  const text = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s).trim();
  // Each cell's source → what its latest run showed.
  const byCell = new Map<string, ReportEntry[]>();
  const latest = new Map<string, number>();
  for (const e of entries) if (e.cell !== undefined) latest.set(e.cell.trim(), Math.max(latest.get(e.cell.trim()) ?? 0, e.run ?? 0));
  for (const e of entries) {
    const key = e.cell?.trim();
    if (key === undefined || e.run !== latest.get(key)) continue;
    byCell.set(key, [...(byCell.get(key) ?? []), e]);
  }
  const items: ReportItem[] = [];
  const used = new Set<ReportEntry>();
  for (const c of cells) {
    if (c.cell_type === "markdown") items.push({ kind: "markdown", source: text(c.source) });
    else if (c.cell_type === "code") for (const e of byCell.get(text(c.source)) ?? []) if (!used.has(e)) (items.push(e), used.add(e));
  }
  const rest = entries.filter((e) => !used.has(e) && (e.cell === undefined || e.run === latest.get(e.cell.trim())));
  return [...items, ...rest];
}

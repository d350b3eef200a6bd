/**
 * One self-contained HTML file: charts drawn by vega-embed (interactive: tooltips, brushes, sliders) and
 * tables, with vega, vega-lite and vega-embed inlined from node_modules so the file opens with no network.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ReportEntry } from "./reportLog";
import { markdownToHtml } from "./markdown";
import { escapeHtml } from "../display/textBundle";
import { describePolicy, type RedactionPolicy } from "../redaction/policy";

/** The UMD builds, by package. Their "exports" hide build/, so they are found along Node's search paths. */
const LIBRARIES: [string, string][] = [["vega", "build/vega.min.js"], ["vega-lite", "build/vega-lite.min.js"], ["vega-embed", "build/vega-embed.min.js"]];

function packageFile(pkg: string, file: string): string {
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const candidate = path.join(dir, pkg, file);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${pkg}/${file} is not installed; run npm ci`);
}

let scripts: string | undefined;
/** The three UMD builds, read once. `</script` inside them is escaped so the page parses. */
function inlineLibraries(): string {
  scripts ??= LIBRARIES.map(([pkg, file]) => {
    const source = readFileSync(packageFile(pkg, file), "utf8");
    return `<script>${source.replace(/<\/script/gi, "<\\/script")}</script>`;
  }).join("\n");
  return scripts;
}

/** JSON safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

/** What a report holds: what the kernel showed, and the notebook's markdown between it. */
export type ReportItem = ReportEntry | { kind: "markdown"; source: string };

/**
 * `redaction`: the policies this kernel had, oldest first, with when each came into force — the report says
 * which were in force while what it shows was taken (kernel/redaction/policy.ts).
 */
export function htmlReport(title: string, items: readonly ReportItem[], redaction: readonly { policy: RedactionPolicy; since: Date }[] = []): string {
  const charts: Record<string, unknown>[] = [];
  const entries = items.filter((e): e is ReportEntry => e.kind !== "markdown");
  const body = items
    .map((e) => {
      if (e.kind === "markdown") return `<section class="markdown">${markdownToHtml(e.source)}</section>`;
      if (e.kind === "table") return `<section class="table"><h2>${escapeHtml(e.title)}</h2><div class="scroll">${e.html}</div></section>`;
      if (e.kind === "text") return `<section class="text"><h2>${escapeHtml(e.title)}</h2><ul>${e.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul></section>`;
      charts.push(e.spec);
      return `<section class="chart"><h2>${escapeHtml(e.title)}</h2><div class="vega" id="chart-${charts.length - 1}"></div></section>`;
    })
    .join("\n");
  const tables = entries.filter((e) => e.kind === "table").length;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; background: #fff; }
  @media (prefers-color-scheme: dark) { body { color: #ddd; background: #1e1e1e; } table { border-color: #555; } }
  h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; font-size: 0.85rem; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
  .scroll { overflow-x: auto; } pre { background: rgba(128,128,128,0.1); padding: 0.5rem; overflow-x: auto; }
  code { font-size: 0.9em; } blockquote { border-left: 3px solid #ccc; margin-left: 0; padding-left: 1rem; }
  .generated { color: #777; font-size: 0.85rem; }
</style>
${inlineLibraries()}
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="generated">Exported by ElixirLumin on ${new Date().toISOString()} — ${charts.length} chart(s), ${tables} table(s).</p>
${redactionNote(redaction)}
${body}
<script>
  const specs = ${scriptJson(charts)};
  specs.forEach((spec, i) => vegaEmbed("#chart-" + i, spec, { renderer: "svg", actions: { export: true, source: false, compiled: false, editor: false } })
    .catch((e) => { document.getElementById("chart-" + i).textContent = "This chart could not be drawn: " + e.message; console.error(e); }));
</script>
</body>
</html>
`;
}

/** The redaction policy the evidence was taken under, said once; every change with its time. */
function redactionNote(history: readonly { policy: RedactionPolicy; since: Date }[]): string {
  if (history.length === 0) return "";
  if (history.length === 1) return `<p class="generated redaction">Secrets were redacted on the nodes before terms left them: ${escapeHtml(describePolicy(history[0].policy))}.</p>`;
  const changes = history.map((h) => `<li>from ${h.since.toISOString()}: ${escapeHtml(describePolicy(h.policy))}</li>`).join("");
  return `<div class="generated redaction">Redaction on the nodes changed while this kernel ran (%redact):<ul>${changes}</ul></div>`;
}

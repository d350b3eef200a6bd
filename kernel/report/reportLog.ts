/**
 * What `%export` puts in a report: the charts and tables this kernel has shown, in order. Bounded (the
 * newest entries win), and holding only what was already bounded for display: a chart's spec with its
 * aggregated data, a table's first page as HTML.
 */
export type ReportEntry = { kind: "chart"; title: string; spec: Record<string, unknown> } | { kind: "table"; title: string; html: string };

const MAX_ENTRIES = 100;
const entries: ReportEntry[] = [];

export function recordChart(spec: Record<string, unknown>): void {
  push({ kind: "chart", title: titleOf(spec), spec });
}

export function recordTable(html: string, caption?: string): void {
  push({ kind: "table", title: caption ?? "Table", html });
}

export function reportEntries(): readonly ReportEntry[] {
  return entries;
}

export function clearReport(): void {
  entries.length = 0;
}

function push(e: ReportEntry): void {
  entries.push(e);
  if (entries.length > MAX_ENTRIES) entries.shift();
}

function titleOf(spec: Record<string, unknown>): string {
  const t = spec.title as string | { text?: string | string[] } | undefined;
  if (typeof t === "string") return t;
  const text = t?.text;
  return Array.isArray(text) ? text.join(" ") : (text ?? "Chart");
}

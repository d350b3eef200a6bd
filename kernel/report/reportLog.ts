/**
 * What `%export` puts in a report: the charts and tables this kernel has shown, in order. Bounded (the
 * newest entries win), and holding only what was already bounded for display: a chart's spec with its
 * aggregated data, a table's first page as HTML. One per kernel, in its state.
 */
export type ReportEntry = { kind: "chart"; title: string; spec: Record<string, unknown> } | { kind: "table"; title: string; html: string };

const MAX_ENTRIES = 100;

export class ReportLog {
  private readonly list: ReportEntry[] = [];

  recordChart(spec: Record<string, unknown>): void {
    this.push({ kind: "chart", title: titleOf(spec), spec });
  }

  recordTable(html: string, caption?: string): void {
    this.push({ kind: "table", title: caption ?? "Table", html });
  }

  entries(): readonly ReportEntry[] {
    return this.list;
  }

  clear(): void {
    this.list.length = 0;
  }

  private push(e: ReportEntry): void {
    this.list.push(e);
    if (this.list.length > MAX_ENTRIES) this.list.shift();
  }
}

function titleOf(spec: Record<string, unknown>): string {
  const t = spec.title as string | { text?: string | string[] } | undefined;
  if (typeof t === "string") return t;
  const text = t?.text;
  return Array.isArray(text) ? text.join(" ") : (text ?? "Chart");
}

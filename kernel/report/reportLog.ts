/**
 * What `%export` puts in a report: the charts, tables and explanations (`%explain`'s sentences) this kernel has
 * shown, in order, each with the code of the cell that showed it (so a report can follow the notebook's own
 * cells and their markdown). Bounded (the newest entries win), and holding only what was already bounded for
 * display: a chart's spec with its aggregated data, a table's page as HTML. One per kernel, in its state.
 */
export type ReportEntry = { title: string; cell?: string; run?: number } & (
  | { kind: "chart"; spec: Record<string, unknown> }
  | { kind: "table"; html: string }
  | { kind: "text"; lines: string[] }
);

/** A table as the log needs it described when it has no caption of its own. */
export interface TableShape {
  rows: number;
  columns: string[];
}

const MAX_ENTRIES = 100;

export class ReportLog {
  private readonly list: ReportEntry[] = [];
  private cell: string | undefined;
  private run = 0;

  /** The code of the cell that is running now: what is shown from now on came from it (its `run`). */
  cellStarted(code: string): void {
    this.cell = code;
    this.run++;
  }

  recordChart(spec: Record<string, unknown>): void {
    this.push({ kind: "chart", title: titleOf(spec), spec });
  }

  /** A table, titled by its caption (a probe's table says what it is), else by the code that showed it. */
  recordTable(html: string, caption?: string, shape?: TableShape): void {
    this.push({ kind: "table", title: caption ?? this.codeTitle() ?? describe(shape), html });
  }

  /** Sentences (%explain), titled by what they explain. */
  recordText(title: string, lines: string[]): void {
    this.push({ kind: "text", title, lines });
  }

  entries(): readonly ReportEntry[] {
    return this.list;
  }

  clear(): void {
    this.list.length = 0;
  }

  /** A one-line cell (`latencyTable(calls)`, `%events orders`) names what it shows. */
  private codeTitle(): string | undefined {
    const lines = (this.cell ?? "").trim().split("\n").filter((l) => l.trim() && !l.trim().startsWith("//"));
    return lines.length === 1 && lines[0].length <= 100 ? lines[0].trim().replace(/;$/, "") : undefined;
  }

  private push(e: ReportEntry): void {
    this.list.push({ ...e, cell: this.cell, run: this.run });
    if (this.list.length > MAX_ENTRIES) this.list.shift();
  }
}

function describe(shape?: TableShape): string {
  if (!shape) return "Table";
  const cols = shape.columns.length > 6 ? `${shape.columns.slice(0, 6).join(", ")}, …` : shape.columns.join(", ");
  return `Table of ${shape.rows.toLocaleString("en")} row${shape.rows === 1 ? "" : "s"}: ${cols}`;
}

function titleOf(spec: Record<string, unknown>): string {
  const t = spec.title as string | { text?: string | string[] } | undefined;
  if (typeof t === "string") return t;
  const text = t?.text;
  return Array.isArray(text) ? text.join(" ") : (text ?? "Chart");
}

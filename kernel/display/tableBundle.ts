/**
 * An Arquero table as text/html (a page of rows with each column's type and the total row count),
 * text/plain (aligned), and application/vnd.dataresource+json (the same page as data, for frontends that
 * render it as a grid).
 */
import { LIMITS } from "./limits";
import { cellText, isTerm } from "./plainText";
import type { MimeBundle } from "../evaluation/cellIO";

/** The part of Arquero's table API display needs; detected structurally so any Arquero version works. */
export interface TableLike {
  numRows(): number;
  columnNames(): string[];
  get(name: string, row: number): unknown;
}

export function isTable(value: unknown): value is TableLike {
  const v = value as TableLike;
  return typeof v === "object" && v !== null && typeof v.numRows === "function" && typeof v.columnNames === "function" && typeof v.get === "function";
}

function typeOf(table: TableLike, name: string, rows: number): string {
  for (let r = 0; r < rows; r++) {
    const v = table.get(name, r);
    if (v === null || v === undefined) continue;
    if (isTerm(v)) return "term";
    if (v instanceof Date) return "date";
    if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
    return typeof v;
  }
  return "null";
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Most rows a table shown whole (showingEveryRow) may have before it is cut like any other. */
const EVERY_ROW_LIMIT = 1000;

/**
 * `table` itself, shown with every row (up to a thousand) instead of the first page: for short lists a user
 * reads whole, such as %probes. It stays the same Arquero table when bound.
 */
export function showingEveryRow<T extends TableLike>(table: T): T {
  return Object.assign(table, { [Symbol.for("Jupyter.display")]: () => tableBundle(table, undefined, Math.min(table.numRows(), EVERY_ROW_LIMIT)) });
}

export function tableBundle(table: TableLike, caption?: string, rows: number = LIMITS.tableRows): MimeBundle {
  const total = table.numRows();
  const names = table.columnNames();
  const shown = Math.min(total, Math.max(rows, LIMITS.tableRows));
  const sample = Math.min(total, LIMITS.dataResourceRows);
  const types = names.map((n) => typeOf(table, n, sample));
  const page = Array.from({ length: shown }, (_, r) => names.map((n) => clip(cellText(table.get(n, r)))));
  const count = `${shown < total ? `${shown.toLocaleString("en")} of ` : ""}${total.toLocaleString("en")} row${total === 1 ? "" : "s"}`;

  const html = [
    `<div class="elixirlumin-table">`,
    caption ? `<div style="font-weight:600">${escapeHtml(caption)}</div>` : "",
    `<table><thead><tr>`,
    ...names.map((n, i) => `<th style="text-align:left">${escapeHtml(n)}<br/><span style="font-weight:normal;opacity:0.6">${types[i]}</span></th>`),
    `</tr></thead><tbody>`,
    ...page.map((row) => `<tr>${row.map((c) => `<td style="text-align:left">${escapeHtml(c)}</td>`).join("")}</tr>`),
    `</tbody></table>`,
    `<div style="opacity:0.7">${count}</div></div>`,
  ].join("");

  const widths = names.map((n, i) => Math.min(40, Math.max(n.length, ...page.map((row) => row[i].length))));
  const line = (cells: string[]) => cells.map((c, i) => clip(c, widths[i]).padEnd(widths[i])).join("  ").trimEnd();
  const plain = [caption ?? "", line(names), line(widths.map((w) => "-".repeat(w))), ...page.map(line), count].filter(Boolean).join("\n");

  const fieldType = (t: string) => (t === "int" ? "integer" : t === "float" ? "number" : t === "boolean" ? "boolean" : "string");
  const data = Array.from({ length: sample }, (_, r) =>
    Object.fromEntries(names.map((n, i) => {
      const v = table.get(n, r);
      return [n, types[i] === "int" || types[i] === "float" || types[i] === "boolean" ? v ?? null : v == null ? null : cellText(v)];
    })),
  );
  return {
    "text/plain": plain,
    "text/html": html,
    "application/vnd.dataresource+json": { schema: { fields: names.map((n, i) => ({ name: n, type: fieldType(types[i]) })) }, data },
  };
}

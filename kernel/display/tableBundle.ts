/**
 * An Arquero table as text/html (a page of rows under each column's name and kind, with the rows shown and the
 * total), text/plain (aligned), and application/vnd.dataresource+json (the same page as data, raw values, for
 * frontends that render it as a grid).
 *
 * Made to be read (kernel/display/columnFormat.ts): numbers in sensible precision and units (µs/ms/s, bytes),
 * times as UTC dates, numbers right-aligned, wide cells cut with the whole value on hover (a `title`), columns
 * with no value in any row left out of the display (named under it; the data keeps them). A page is chosen
 * with `{ offset, limit }` — `show(t, { offset, limit })` in a cell, `%events NAME --rows N`.
 */
import { LIMITS } from "./limits";
import { allNull, columnKind, formatValue, kindLabel, NUMERIC, type ColumnKind } from "./columnFormat";
import { escapeHtml } from "./textBundle";
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

/** Which rows to show: from row `offset` (0-based), `limit` of them. */
export interface TablePage {
  offset?: number;
  limit?: number;
}

/** Characters of a cell shown in HTML before it is cut (the whole value is in its title), and in plain text. */
const CELL_CHARS = 60;
const PLAIN_CELL_CHARS = 40;
/** Characters of a cell's whole value kept for its hover title. */
const TITLE_CHARS = 4000;
/** Most rows one page may show. */
export const MAX_PAGE_ROWS = 1000;

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Most rows a table shown whole (showingEveryRow) may have before it is cut like any other. */
const EVERY_ROW_LIMIT = MAX_PAGE_ROWS;

/** The page a table is shown with, when it is not the first 20 rows (set by showingEveryRow / showingPage). */
const PAGE = Symbol.for("elixirlumin.tablePage");

/**
 * `table` itself, shown with every row (up to a thousand) instead of the first page: for short lists a user
 * reads whole, such as %probes. It stays the same Arquero table when bound.
 */
export function showingEveryRow<T extends TableLike>(table: T): T {
  return showingPage(table, { limit: Math.min(Math.max(1, table.numRows()), EVERY_ROW_LIMIT) });
}

/** `table` itself, shown with the given page wherever it is displayed (`%events NAME --rows 100`). */
export function showingPage<T extends TableLike>(table: T, page: TablePage): T {
  checkPage(page, table.numRows());
  return Object.assign(table, { [PAGE]: page });
}

/** The page `table` is to be shown with ({} for the first page). */
export function pageOf(table: TableLike): TablePage {
  return (table as { [PAGE]?: TablePage })[PAGE] ?? {};
}

/** A page of a table to show once, leaving the table as it is: what `show(t, { offset, limit })` displays. */
export class TablePageView {
  constructor(
    readonly table: TableLike,
    readonly page: TablePage,
  ) {
    checkPage(page, table.numRows());
  }
}

/** The page asked for, checked: a clear error for a bad offset or limit. */
export function checkPage(page: TablePage, total: number): { offset: number; limit: number } {
  const offset = page.offset ?? 0;
  const limit = page.limit ?? LIMITS.tableRows;
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`offset must be a whole number of rows, 0 or more (got ${offset})`);
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit must be a whole number of rows, 1 or more (got ${limit})`);
  if (limit > MAX_PAGE_ROWS) throw new Error(`limit can be at most ${MAX_PAGE_ROWS} rows a page (got ${limit}); page with offset, or aggregate first`);
  if (offset > 0 && offset >= total) throw new Error(`offset ${offset} is past the last row (the table has ${total.toLocaleString("en")} rows)`);
  return { offset, limit };
}

/** `rows` (a number, as before) is the page's size from the first row. */
export function tableBundle(table: TableLike, caption?: string, page: TablePage | number = {}): MimeBundle {
  const total = table.numRows();
  const { offset, limit } = checkPage(typeof page === "number" ? { limit: Math.max(page, LIMITS.tableRows) } : page, total);
  const end = Math.min(total, offset + limit);
  const all = table.columnNames();
  const sample = Math.min(total, LIMITS.dataResourceRows);
  const kinds = new Map<string, ColumnKind>(all.map((n) => [n, columnKind(table, n, offset, Math.max(sample, end - offset))]));
  // A column with no value in any row takes space and says nothing: named under the table instead.
  const empty = total > 0 ? all.filter((n) => kinds.get(n) === "null" && allNull(table, n)) : [];
  const names = all.filter((n) => !empty.includes(n));
  const raw = Array.from({ length: end - offset }, (_, i) => names.map((n) => table.get(n, offset + i)));
  const text = raw.map((row) => row.map((v, j) => formatValue(v, kinds.get(names[j])!)));
  const numeric = names.map((n) => NUMERIC.has(kinds.get(n)!));

  const shownRows = end - offset;
  const count = total === 0
    ? "0 rows"
    : offset === 0 && end === total
      ? `${total.toLocaleString("en")} row${total === 1 ? "" : "s"}`
      : offset === 0
        ? `${shownRows.toLocaleString("en")} of ${total.toLocaleString("en")} rows`
        : `rows ${(offset + 1).toLocaleString("en")}–${end.toLocaleString("en")} of ${total.toLocaleString("en")}`;
  const more = end < total ? ` — next: show(t, { offset: ${end}${limit !== LIMITS.tableRows ? `, limit: ${limit}` : ""} })` : "";
  const hidden = empty.length ? `not shown, no value in any row: ${empty.join(", ")}` : "";

  const align = (j: number) => (numeric[j] ? "right" : "left");
  const cell = (v: unknown, t: string, j: number) => {
    const kind = kinds.get(names[j])!;
    const shown = clip(t, CELL_CHARS);
    // The whole value on hover: the raw number behind a formatted one, the whole text behind a cut one.
    const full = typeof v === "number" && kind !== "int" ? String(v) : shown !== t ? clip(t, TITLE_CHARS) : "";
    return `<td style="text-align:${align(j)};white-space:nowrap"${full ? ` title="${escapeHtml(full)}"` : ""}>${escapeHtml(shown)}</td>`;
  };
  const html = [
    `<div class="elixirlumin-table">`,
    // The caption's first line heads the table; any further line (rows it leaves out) is a quieter note.
    ...(caption ?? "").split("\n").filter(Boolean).map((l, i) => `<div style="${i === 0 ? "font-weight:600" : "opacity:0.7"}">${escapeHtml(l)}</div>`),
    `<table><thead><tr>`,
    ...names.map((n, j) => `<th style="text-align:${align(j)}">${escapeHtml(n)}<br/><span style="font-weight:normal;opacity:0.6">${kindLabel(kinds.get(n)!)}</span></th>`),
    `</tr></thead><tbody>`,
    ...raw.map((row, i) => `<tr>${row.map((v, j) => cell(v, text[i][j], j)).join("")}</tr>`),
    `</tbody></table>`,
    `<div style="opacity:0.7">${escapeHtml(count + more)}</div>`,
    hidden ? `<div style="opacity:0.7">${escapeHtml(hidden)}</div>` : "",
    `</div>`,
  ].join("");

  const plainRows = text.map((row) => row.map((c) => clip(c, PLAIN_CELL_CHARS)));
  const widths = names.map((n, j) => Math.max(n.length, ...plainRows.map((row) => row[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join("  ").trimEnd();
  const plain = [caption ?? "", line(names), line(widths.map((w) => "-".repeat(w))), ...plainRows.map(line), count + more, hidden].filter(Boolean).join("\n");

  // The data keeps raw values (numbers as numbers, times as µs) and every column.
  const fieldType = (k: ColumnKind) => (k === "int" ? "integer" : NUMERIC.has(k) ? "number" : k === "boolean" ? "boolean" : "string");
  const dataEnd = Math.min(total, offset + Math.max(limit, LIMITS.dataResourceRows));
  const data = Array.from({ length: dataEnd - offset }, (_, i) =>
    Object.fromEntries(all.map((n) => {
      const v = table.get(n, offset + i);
      const k = kinds.get(n)!;
      return [n, NUMERIC.has(k) || k === "boolean" ? (typeof v === "bigint" ? Number(v) : v ?? null) : v == null ? null : formatValue(v, k)];
    })),
  );
  return {
    "text/plain": plain,
    "text/html": html,
    "application/vnd.dataresource+json": { schema: { fields: all.map((n) => ({ name: n, type: fieldType(kinds.get(n)!) })) }, data },
  };
}

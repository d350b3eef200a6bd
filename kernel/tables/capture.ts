/**
 * Captures: a probe's table saved as an Apache Arrow IPC file (readable by pandas, polars, DuckDB), and read
 * back into the same table — so a notebook can re-run from its captures without any node.
 *
 * Term columns travel as Arrow binary: each row's raw external-format bytes, exactly what the node sent.
 * The table's metadata (probe, node, spec, counts, which columns are terms, the term syntax) goes in the
 * Arrow schema's metadata under the key `elixirlumin`. Arquero writes and reads the IPC (through its
 * flechette dependency); only the term columns and the metadata need handling here.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { aq, type ColumnTable } from "../analysis/aq";
import { encode } from "../beam/etf";
import { Term } from "../beam/term";
import type { Syntax } from "../beam/termFormat";
import { isTerm } from "../display/plainText";
import { TermColumn } from "./columns";
import { setTableMeta, tableMeta, type TableMeta } from "./tableMeta";
import { DEFAULT_POLICY, type RedactionPolicy } from "../redaction/policy";

const META_KEY = "elixirlumin";

interface CaptureMeta extends TableMeta {
  terms: string[];
  syntax: Syntax;
  capturedAt: string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const flechette = require("@uwdata/flechette") as {
  binary(): unknown;
  tableToIPC(table: unknown, options: { format: "file" }): Uint8Array;
  tableFromIPC(bytes: Uint8Array): { schema: { metadata: Map<string, string> | null; fields: { name: string; type: { typeId: number } }[] } };
};

function termBytes(v: unknown): Uint8Array | null {
  if (!isTerm(v)) return null;
  const t = v as Term;
  return t.bytes.length ? t.bytes : encode(t.term);
}

/**
 * Write `table` (with its metadata) to `file` as Arrow IPC. Returns the number of bytes written. The metadata
 * states the redaction policy its rows were taken under: the probe's, else `policy` (the one in force now).
 */
export function saveCapture(table: ColumnTable, file: string, fallbackKind = "table", policy: RedactionPolicy = DEFAULT_POLICY): number {
  const names = table.columnNames();
  const terms = names.filter((n) => {
    for (let r = 0; r < table.numRows(); r++) {
      const v = table.get(n, r);
      if (v !== null && v !== undefined) return isTerm(v);
    }
    return false;
  });
  let syntax: Syntax = "elixir";
  const arrays: Record<string, unknown> = {};
  for (const n of names) {
    if (!terms.includes(n)) continue;
    const values = table.array(n) as unknown[];
    const first = values.find(isTerm) as Term | undefined;
    if (first) syntax = first.syntax;
    arrays[n] = values.map(termBytes);
  }
  const plain = terms.length ? table.assign(aq.table(arrays as never)) : table;
  const arrow = aq.toArrow(plain, { types: Object.fromEntries(terms.map((n) => [n, flechette.binary()])) } as never) as unknown as {
    schema: { metadata: Map<string, string> | null };
  };
  // The file holds exactly this table's rows: a note about rows the table left out is not carried into it.
  const { hidden: _hidden, ...known } = tableMeta(table) ?? { kind: fallbackKind, schemaVersion: 1, dropped: 0 };
  const meta: CaptureMeta = { ...known, redaction: known.redaction ?? [policy], terms, syntax, capturedAt: new Date().toISOString() };
  arrow.schema.metadata = new Map([[META_KEY, JSON.stringify(meta)]]);
  const bytes = flechette.tableToIPC(arrow, { format: "file" });
  writeFileSync(file, bytes);
  return bytes.length;
}

/** Arrow's type ids for the numbers a table's columns held (flechette reads both back as plain numbers). */
export const ARROW_INT = 2;
export const ARROW_FLOAT = 3;

/**
 * Read a capture back: the table, its term columns lazy again, its metadata restored, and each column's Arrow
 * type id (so a replay can tell a float column whose values happen to be whole from an int column).
 */
export function loadCapture(file: string): { table: ColumnTable; meta: CaptureMeta; types: Record<string, number> } {
  const bytes = readFileSync(file);
  const arrow = flechette.tableFromIPC(bytes);
  const raw = arrow.schema.metadata?.get(META_KEY);
  if (!raw) throw new Error(`${file} is an Arrow file but not an ElixirLumin capture (no "${META_KEY}" metadata)`);
  const meta = JSON.parse(raw) as CaptureMeta;
  let table = aq.fromArrow(arrow as never) as ColumnTable;
  if (meta.terms.length) {
    const columns: Record<string, TermColumn> = {};
    for (const n of meta.terms) {
      const values = table.array(n) as (Uint8Array | null)[];
      const offsets = new Uint32Array(values.length + 1);
      values.forEach((v, i) => (offsets[i + 1] = offsets[i] + (v?.length ?? 0)));
      const data = new Uint8Array(offsets[values.length]);
      values.forEach((v, i) => v && data.set(v, offsets[i]));
      columns[n] = new TermColumn(offsets, data, meta.syntax);
    }
    table = table.assign(aq.table(columns as never));
  }
  setTableMeta(table, meta);
  const types = Object.fromEntries(arrow.schema.fields.map((f) => [f.name, f.type.typeId]));
  return { table, meta, types };
}

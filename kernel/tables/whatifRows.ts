/**
 * The rows a what-if replays, taken out of a recorded table (a call probe's or a state probe's, or a capture
 * of one) as the bridge's `whatif` request carries them: each term as its raw external-format bytes, exactly
 * as the node sent it, so the shadow node rebuilds the very term that was recorded.
 */
import { Atom, encode, Tuple } from "../beam/etf";
import type { WhatIfCallRow, WhatIfStateRow } from "../beam/protocol";
import { Term } from "../beam/term";
import { hasColumn, numbers, values } from "../analysis/columns";
import type { ColumnTable } from "../analysis/aq";

/** What the bridge reads as Erlang's `undefined`. */
const NONE = new Atom("undefined");

const bytes = (v: unknown): Uint8Array | null => {
  if (v instanceof Term) return v.bytes.length ? v.bytes : encode(v.term);
  return null;
};

const text = (v: unknown): string | null => (v == null ? null : String(v));
const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The row positions of `table` in scan order (filters and ordering applied). */
function positions(table: ColumnTable): number[] {
  const n = table.numRows();
  const idx = table.isFiltered() || table.isOrdered() ? table.indices() : null;
  return Array.from({ length: n }, (_, i) => (idx ? idx[i] : i));
}

/** A call probe's rows: module and function as the node names them (`Elixir.Shop.Pricing`). */
export function callRows(table: ColumnTable): WhatIfCallRow[] {
  const pos = positions(table);
  const col = (name: string) => (hasColumn(table, name) ? values(table, name) : new Array(pos.length).fill(null));
  const [mod, fn, args, outcome, result, cls, reason] = ["module", "function", "args", "outcome", "result", "exception_class", "exception_reason"].map(col);
  const start = numbers(table, "start_us");
  const dur = numbers(table, "duration_us");
  return pos.map((row, i) => [
    row, start[i], elixirName(String(mod[i])), String(fn[i]), bytes(args[i]), text(outcome[i]), bytes(result[i]), text(cls[i]), bytes(reason[i]), num(dur[i]),
  ]);
}

/** A state probe's rows. */
export function stateRows(table: ColumnTable): WhatIfStateRow[] {
  const pos = positions(table);
  const col = (name: string) => (hasColumn(table, name) ? values(table, name) : new Array(pos.length).fill(null));
  const [kind, message, before, after, reply, nameBefore, nameAfter] = ["kind", "message", "state_before", "state_after", "reply", "state_name_before", "state_name_after"].map(col);
  const seq = numbers(table, "seq");
  const time = numbers(table, "time_us");
  const dur = numbers(table, "duration_us");
  return pos.map((row, i) => [
    row, seq[i], time[i], String(kind[i]), bytes(message[i]), bytes(before[i]), bytes(after[i]), bytes(reply[i]), num(dur[i]), bytes(nameBefore[i]), bytes(nameAfter[i]),
  ]);
}

/** Tables show Elixir modules without `Elixir.`; the node knows them with it. Erlang modules start lower-case. */
export function elixirName(module: string): string {
  return /^[A-Z]/.test(module) ? `Elixir.${module}` : module;
}

/** Rows as the wire carries them: tuples, null as `undefined`. */
export function wireRows(rows: (WhatIfCallRow | WhatIfStateRow)[]): Tuple[] {
  return rows.map((r) => new Tuple(r.map((v) => (v === null ? NONE : v)) as never));
}

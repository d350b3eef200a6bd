/**
 * Recurring call patterns: per process, calls in start order, counted as consecutive n-grams of
 * `Mod.fun/arity`. A sequence that recurs across requests (or a loop that repeats) shows up at the top.
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, groupPositions, hasColumn, mfaLabel, numbers, requireColumns } from "./columns";

export interface SequenceOptions {
  /** Calls per sequence (3). */
  length?: number;
  /** Fewest occurrences to report (2). */
  minCount?: number;
}

/** The separator between the calls of a `sequence`. */
export const SEQUENCE_SEPARATOR = " → ";

/**
 * Columns: sequence ("A.f/1 → B.g/2 → …"), count (occurrences, overlapping ones included), pids (how many
 * processes it occurred on). Most frequent first, ties by sequence.
 */
export function frequentSequences(calls: ColumnTable, options: SequenceOptions = {}): ColumnTable {
  const length = Math.max(1, Math.floor(options.length ?? 3));
  const minCount = options.minCount ?? 2;
  requireColumns(calls, ["pid", "module", "function", "arity", "start_us"], "frequentSequences");
  const procs = groupCodes(calls, hasColumn(calls, "node") ? ["node", "pid"] : ["pid"]);
  const { offsets, positions } = groupPositions(procs);
  const start = numbers(calls, "start_us");
  const fns = groupCodes(calls, ["module", "function", "arity"]);
  const labels = fns.keys[0].map((m, g) => mfaLabel(m, fns.keys[1][g], fns.keys[2][g]));

  // An n-gram's key: its function codes as one number when they fit, else as text.
  const numeric = fns.count ** length < 2 ** 52;
  const counts = new Map<number | string, { first: number[]; count: number; pids: number; lastProc: number }>();
  for (let g = 0; g < procs.count; g++) {
    const byStart = Array.from(positions.subarray(offsets[g], offsets[g + 1])).sort((a, b) => start[a] - start[b] || a - b);
    const codes = byStart.map((p) => fns.codes[p]);
    for (let k = 0; k + length <= codes.length; k++) {
      let key: number | string;
      if (numeric) {
        key = 0;
        for (let j = 0; j < length; j++) key = key * fns.count + codes[k + j];
      } else key = codes.slice(k, k + length).join(",");
      let c = counts.get(key);
      if (!c) counts.set(key, (c = { first: codes.slice(k, k + length), count: 0, pids: 0, lastProc: -1 }));
      c.count++;
      if (c.lastProc !== g) {
        c.pids++;
        c.lastProc = g;
      }
    }
  }
  const rows = [...counts.values()]
    .filter((c) => c.count >= minCount)
    .map((c) => ({ sequence: c.first.map((f) => labels[f]).join(SEQUENCE_SEPARATOR), count: c.count, pids: c.pids }));
  rows.sort((a, b) => b.count - a.count || (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  return aq.table({
    sequence: rows.map((r) => r.sequence),
    count: rows.map((r) => r.count),
    pids: rows.map((r) => r.pids),
  });
}

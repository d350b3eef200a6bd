/**
 * Recurring call patterns: per process, calls in start order, counted as consecutive n-grams of
 * `Mod.fun/arity`. A sequence that recurs across requests (or a loop that repeats) shows up at the top.
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, groupPositions, hasColumn, mfaColumn, numbers, requireColumns } from "./columns";

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
  const mfa = mfaColumn(calls);

  const counts = new Map<string, { count: number; pids: number; lastProc: number }>();
  for (let g = 0; g < procs.count; g++) {
    const ps = Array.from(positions.subarray(offsets[g], offsets[g + 1])).sort((a, b) => start[a] - start[b] || a - b);
    for (let k = 0; k + length <= ps.length; k++) {
      const key = ps
        .slice(k, k + length)
        .map((p) => mfa[p])
        .join(SEQUENCE_SEPARATOR);
      let c = counts.get(key);
      if (!c) counts.set(key, (c = { count: 0, pids: 0, lastProc: -1 }));
      c.count++;
      if (c.lastProc !== g) {
        c.pids++;
        c.lastProc = g;
      }
    }
  }
  const rows = [...counts].filter(([, c]) => c.count >= minCount);
  rows.sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return aq.table({
    sequence: rows.map(([s]) => s),
    count: rows.map(([, c]) => c.count),
    pids: rows.map(([, c]) => c.pids),
  });
}

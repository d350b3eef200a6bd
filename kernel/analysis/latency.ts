/**
 * Latency per function: one row per `Mod.fun/arity` (and per `by` column, such as node or probe) of a calls
 * table with count, mean and exact percentiles of duration_us. Percentiles are nearest-rank
 * (sorted[ceil(p/100 · n) − 1]): always a duration that actually occurred, never an interpolation.
 * Works on whole columns (group codes, one counting sort, then quickselect per group rather than a full
 * sort), so a million calls take a fraction of a second.
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, groupPositions, mfaLabel, numbers, requireColumns } from "./columns";
import { percentilesInPlace } from "./stats";

export interface LatencyOptions {
  /** Further columns to split by, e.g. ["node"]; they follow `mfa` in the result. */
  by?: string[];
}

/**
 * Columns: mfa, …by, count, mean_us, p50_us, p90_us, p99_us, max_us; rows ordered by total time
 * (count × mean) descending. Calls whose duration is null are left out.
 */
export function latencyTable(calls: ColumnTable, options: LatencyOptions = {}): ColumnTable {
  const by = options.by ?? [];
  requireColumns(calls, ["module", "function", "arity", "duration_us", ...by], "latencyTable");
  const durations = numbers(calls, "duration_us");
  const groups = groupCodes(calls, ["module", "function", "arity", ...by]);
  const { offsets, positions } = groupPositions(groups);

  // Each group's durations, contiguous; percentiles by selection within each group's stretch.
  const sorted = new Float64Array(positions.length);
  const pct = new Float64Array(4 * groups.count);
  const count = new Float64Array(groups.count);
  const sum = new Float64Array(groups.count);
  for (let g = 0; g < groups.count; g++) {
    let w = offsets[g];
    for (let k = offsets[g]; k < offsets[g + 1]; k++) {
      const d = durations[positions[k]];
      if (d === d) {
        sorted[w++] = d;
        sum[g] += d;
      }
    }
    count[g] = w - offsets[g];
    const [p50, p90, p99, max] = percentilesInPlace(sorted.subarray(offsets[g], w), [50, 90, 99, 100]);
    pct[4 * g] = p50;
    pct[4 * g + 1] = p90;
    pct[4 * g + 2] = p99;
    pct[4 * g + 3] = max;
  }

  const order = Array.from({ length: groups.count }, (_, g) => g).filter((g) => count[g] > 0);
  const mfas = order.map((g) => mfaLabel(groups.keys[0][g], groups.keys[1][g], groups.keys[2][g]));
  const rank = order.map((_, i) => i);
  rank.sort((a, b) => sum[order[b]] - sum[order[a]] || (mfas[a] < mfas[b] ? -1 : mfas[a] > mfas[b] ? 1 : a - b));

  const cols: Record<string, unknown[]> = { mfa: rank.map((i) => mfas[i]) };
  by.forEach((name, k) => (cols[name] = rank.map((i) => groups.keys[3 + k][order[i]])));
  const stat = (f: (g: number) => number) => rank.map((i) => f(order[i]));
  cols.count = stat((g) => count[g]);
  cols.mean_us = stat((g) => sum[g] / count[g]);
  cols.p50_us = stat((g) => pct[4 * g]);
  cols.p90_us = stat((g) => pct[4 * g + 1]);
  cols.p99_us = stat((g) => pct[4 * g + 2]);
  cols.max_us = stat((g) => pct[4 * g + 3]);
  return aq.table(cols);
}

/**
 * Calls far slower (or faster) than is usual for their function: the robust z-score of Iglewicz and
 * Hoaglin, 0.6745 · (duration − median) / MAD, per `Mod.fun/arity`, where MAD is the median absolute
 * deviation. Median and MAD ignore the outliers they look for, unlike mean and standard deviation. When
 * more than half the durations are equal the MAD is 0, and the mean absolute deviation (× 1.2533, its
 * ratio to the standard deviation under normality) takes its place; a function whose durations are all
 * equal has no outliers.
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, groupPositions, mfaLabel, numbers, requireColumns, rowNumbers } from "./columns";
import { medianInPlace } from "./stats";

export interface OutlierOptions {
  /** |score| above which a call is an outlier (3.5, Iglewicz and Hoaglin's recommendation). */
  threshold?: number;
  /** Further columns to compare within, e.g. ["node"]. */
  by?: string[];
}

/**
 * The outlier rows of `calls`, all their columns plus mfa, median_us (of their function) and score (the
 * signed robust z-score), ordered by |score| descending.
 */
export function outliers(calls: ColumnTable, options: OutlierOptions = {}): ColumnTable {
  const threshold = options.threshold ?? 3.5;
  const by = options.by ?? [];
  requireColumns(calls, ["module", "function", "arity", "duration_us", ...by], "outliers");
  const table = calls.ungroup();
  const durations = numbers(table, "duration_us");
  const groups = groupCodes(table, ["module", "function", "arity", ...by]);
  const { offsets, positions } = groupPositions(groups);

  const hits: { pos: number; g: number; median: number; score: number }[] = [];
  const xs = new Float64Array(positions.length);
  const dev = new Float64Array(positions.length);
  for (let g = 0; g < groups.count; g++) {
    let m = 0;
    for (let k = offsets[g]; k < offsets[g + 1]; k++) {
      const d = durations[positions[k]];
      if (d === d) xs[m++] = d;
    }
    if (m < 3) continue;
    const median = medianInPlace(xs.subarray(0, m));
    let sumDev = 0;
    for (let k = 0; k < m; k++) sumDev += dev[k] = Math.abs(xs[k] - median);
    let scale = medianInPlace(dev.subarray(0, m)) / 0.6745;
    if (!(scale > 0)) scale = (1.2533 * sumDev) / m;
    if (!(scale > 0)) continue;
    for (let k = offsets[g]; k < offsets[g + 1]; k++) {
      const p = positions[k];
      const score = (durations[p] - median) / scale;
      if (Math.abs(score) > threshold) hits.push({ pos: p, g, median, score });
    }
  }
  hits.sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.pos - b.pos);

  const rows = table.reify(Array.from(rowNumbers(table, hits.map((h) => h.pos))));
  return rows.assign(
    aq.table({
      mfa: hits.map((h) => mfaLabel(groups.keys[0][h.g], groups.keys[1][h.g], groups.keys[2][h.g])),
      median_us: hits.map((h) => h.median),
      score: hits.map((h) => h.score),
    }),
  );
}

/**
 * Processes whose mailbox keeps growing: across repeated samples (several `%top` tables concatenated, or any
 * table with pid and message_queue_len), the least-squares slope of each process's queue length over time.
 * A queue that grows steadily is the classic sign of a process that cannot keep up with what it is sent.
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, groupPositions, hasColumn, numbers, requireColumns, values } from "./columns";
import { slope } from "./stats";

export interface MailboxGrowthOptions {
  /**
   * The sample time column: `time_us` (µs) when the table has it, else a sample index column (`sample`, or
   * the name given here) counted in units of `sampleIntervalS`. With neither, a process's k-th row is
   * taken to be its k-th sample.
   */
  time?: string;
  /** Seconds between samples when time is a sample index (1). */
  sampleIntervalS?: number;
  /** Fewest samples of a process to judge it (3). */
  minSamples?: number;
}

/**
 * Columns: [node,] pid, [name,] samples, first, last, max, slope_per_s (messages per second); only the
 * processes with slope > 0 and last > first, fastest growing first.
 */
export function mailboxGrowth(samples: ColumnTable, options: MailboxGrowthOptions = {}): ColumnTable {
  requireColumns(samples, ["pid", "message_queue_len"], "mailboxGrowth");
  const n = samples.numRows();
  const timeCol = options.time ?? (hasColumn(samples, "time_us") ? "time_us" : hasColumn(samples, "sample") ? "sample" : null);
  const interval = options.sampleIntervalS ?? 1;
  const minSamples = options.minSamples ?? 3;
  const withNode = hasColumn(samples, "node");
  const withName = hasColumn(samples, "name");

  const groups = groupCodes(samples, withNode ? ["node", "pid"] : ["pid"]);
  const { offsets, positions } = groupPositions(groups);
  const queue = numbers(samples, "message_queue_len");
  const raw = timeCol ? numbers(samples, timeCol) : null;
  const seconds = (p: number, k: number) => (raw ? (timeCol === "time_us" ? raw[p] / 1e6 : raw[p] * interval) : k * interval);
  const names = withName ? values<string | null>(samples, "name") : null;

  const out = { node: [] as unknown[], pid: [] as unknown[], name: [] as unknown[], samples: [] as number[], first: [] as number[], last: [] as number[], max: [] as number[], slope_per_s: [] as number[] };
  for (let g = 0; g < groups.count; g++) {
    const ps = Array.from(positions.subarray(offsets[g], offsets[g + 1]));
    const pts = ps.map((p, k) => ({ p, t: seconds(p, k), q: queue[p] })).filter((s) => s.t === s.t && s.q === s.q);
    if (pts.length < Math.max(2, minSamples)) continue;
    pts.sort((a, b) => a.t - b.t || a.p - b.p);
    const s = slope(
      pts.map((x) => x.t),
      pts.map((x) => x.q),
    );
    const first = pts[0].q;
    const last = pts[pts.length - 1].q;
    if (!(s > 0 && last > first)) continue;
    out.node.push(withNode ? groups.keys[0][g] : null);
    out.pid.push(groups.keys[withNode ? 1 : 0][g]);
    out.name.push(names ? ([...pts].reverse().map((x) => names[x.p]).find((v) => v != null) ?? null) : null);
    out.samples.push(pts.length);
    out.first.push(first);
    out.last.push(last);
    out.max.push(Math.max(...pts.map((x) => x.q)));
    out.slope_per_s.push(s);
  }
  const order = out.slope_per_s.map((_, i) => i).sort((a, b) => out.slope_per_s[b] - out.slope_per_s[a] || a - b);
  const cols: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(out)) {
    if ((k === "node" && !withNode) || (k === "name" && !withName)) continue;
    cols[k] = order.map((i) => (v as unknown[])[i]);
  }
  return aq.table(cols);
}

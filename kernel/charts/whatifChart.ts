/**
 * A what-if's durations: each replay as a point, its recorded duration across and its replayed duration up
 * (both on log scales), coloured by whether it gave the same result. The diagonal is "as fast as recorded":
 * points under it got faster. Replays that never ran (not replayed) have no point.
 */
import type { ColumnTable } from "../analysis/aq";
import { numbers, requireColumns, values } from "../analysis/columns";
import { formatUs, medianInPlace } from "../analysis/stats";
import { WHATIF_STATUSES, whatifStatuses } from "../analysis/whatifOutcomes";
import { CATEGORY, ALERT, GREY, baseSpec, type ChartSpec } from "./theme";
import { clip, evenPositions, keptNote, MAX_VALUES, plain, r3 } from "./data";

/** Points drawn at most (each embeds a few values). */
const MAX_POINTS = Math.floor(MAX_VALUES / 6);

/**
 * Recorded against replayed duration per replay, coloured by outcome, with the diagonal.
 * @example whatifChart(w)
 */
export function whatifChart(t: ColumnTable): ChartSpec {
  requireColumns(t, ["recorded_us", "replayed_us", "outcome", "same", "function"], "whatifChart");
  const rec = numbers(t, "recorded_us");
  const rep = numbers(t, "replayed_us");
  const status = whatifStatuses(t);
  const fn = values<string>(t, "function");
  const args = values<unknown>(t, "args");
  const diff = values<string | null>(t, "diff");
  const drawn = Array.from({ length: t.numRows() }, (_, i) => i).filter((i) => rec[i] > 0 && rep[i] > 0);
  const kept = evenPositions(drawn.length, MAX_POINTS).map((p) => drawn[p]);
  const data = kept.map((i) => ({
    recorded_us: r3(rec[i]),
    replayed_us: r3(rep[i]),
    status: status[i],
    function: fn[i],
    args: args[i] == null ? null : clip(String(plain(args[i])), 80),
    diff: diff[i] == null ? null : clip(diff[i]!, 120),
  }));
  const lo = Math.max(0.1, Math.min(...data.map((d) => Math.min(d.recorded_us, d.replayed_us)), Infinity)) / 1.5;
  const hi = Math.max(...data.map((d) => Math.max(d.recorded_us, d.replayed_us)), 1) * 1.5;
  const mRec = medianInPlace(Float64Array.from(drawn, (i) => rec[i]));
  const mRep = medianInPlace(Float64Array.from(drawn, (i) => rep[i]));
  const faster = drawn.filter((i) => rep[i] < rec[i]).length;
  const colors = [CATEGORY[2], ALERT, GREY, CATEGORY[0], CATEGORY[1], CATEGORY[6]];
  const scale = { type: "log", domain: [lo, hi], nice: false };
  // One tick (and grid line) per power of ten: a log axis's default minor ticks make a dense mesh.
  const decades: number[] = [];
  for (let p = Math.floor(Math.log10(lo)); 10 ** p <= hi; p++) if (10 ** p >= lo) decades.push(10 ** p);
  const axis = (title: string) => ({ title, values: decades, format: "~s" });

  return {
    ...baseSpec("Recorded vs replayed duration", [
      drawn.length
        ? `${drawn.length.toLocaleString("en")} replays: median ${formatUs(mRec)} recorded, ${formatUs(mRep)} replayed; ${faster.toLocaleString("en")} faster than recorded (under the diagonal)`
        : "no replay has both durations",
      keptNote(kept.length, drawn.length, "replays", "{n} evenly spaced"),
    ]),
    width: 420,
    height: 420,
    layer: [
      {
        data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
        mark: { type: "line", color: GREY, strokeDash: [4, 4], opacity: 0.8 },
        encoding: { x: { field: "x", type: "quantitative", scale, axis: axis("recorded duration (µs, log)") }, y: { field: "y", type: "quantitative", scale, axis: axis("replayed duration (µs, log)") } },
      },
      {
        data: { values: data },
        mark: { type: "point", filled: true, size: 40, opacity: 0.75 },
        encoding: {
          x: { field: "recorded_us", type: "quantitative", scale, axis: axis("recorded duration (µs, log)") },
          y: { field: "replayed_us", type: "quantitative", scale, axis: axis("replayed duration (µs, log)") },
          color: { field: "status", type: "nominal", title: "replay", scale: { domain: [...WHATIF_STATUSES], range: colors }, legend: { orient: "right", symbolOpacity: 1 } },
          tooltip: [
            { field: "function", title: "function" },
            { field: "args", title: "args" },
            { field: "recorded_us", title: "recorded µs" },
            { field: "replayed_us", title: "replayed µs" },
            { field: "status", title: "replay" },
            { field: "diff", title: "diff" },
          ],
        },
      },
    ],
  } as ChartSpec;
}

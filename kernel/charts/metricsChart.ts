/**
 * A node's vital signs over time: total memory (MB), process count, run queue and scheduler utilisation
 * (%), one line chart each, stacked on a shared time axis, with a rule at each error (error-level log rows,
 * calls that raised) so trouble lines up with what the node was doing. Long series are averaged into time
 * buckets in Arquero first.
 */
import { aq, type ColumnTable } from "../analysis/aq";
import { hasColumn, mfaColumn, numbers, requireColumns, texts, values } from "../analysis/columns";
import { formatUs } from "../analysis/stats";
import { ALERT, baseSpec, type ChartSpec } from "./theme";
import { clip, evenPositions, keptNote, MAX_VALUES, plain, r3 } from "./data";

export interface MetricsChartOptions {
  /** Error markers: logs tables (rows at level error or worse), calls tables (rows that raised), or times in µs since the epoch. */
  markers?: ColumnTable | number[] | (ColumnTable | number[])[];
  /** Most samples drawn per node before averaging into buckets (600). */
  maxSamples?: number;
  /** Most markers drawn (100). */
  maxMarkers?: number;
}

interface Series {
  column: string;
  title: string;
  scale: number;
  /** Whole counts (processes, run queue): drawn as steps between samples, axis in whole numbers. */
  count?: boolean;
}

export const METRIC_SERIES: Series[] = [
  { column: "memory_total", title: "memory total (MB)", scale: 1 / (1024 * 1024) },
  { column: "process_count", title: "processes (count)", scale: 1, count: true },
  { column: "run_queue", title: "run queue (processes waiting)", scale: 1, count: true },
  { column: "scheduler_utilization", title: "scheduler utilisation (%)", scale: 100 },
];

const ERROR_LEVELS = new Set(["emergency", "alert", "critical", "error"]);

interface Marker {
  time_us: number;
  what: string;
}

/** Marker times and descriptions from logs / calls tables or plain µs times. */
export function errorMarkers(markers: MetricsChartOptions["markers"]): Marker[] {
  if (!markers) return [];
  const items: unknown[] = Array.isArray(markers) ? markers : [markers];
  const list = (items.every((m) => typeof m === "number") ? [items] : items) as (ColumnTable | number[])[];
  const out: Marker[] = [];
  for (const m of list) {
    if (Array.isArray(m)) {
      for (const t of m) out.push({ time_us: t, what: "marker" });
    } else if (hasColumn(m, "level") && hasColumn(m, "time_us")) {
      const level = texts(m, "level");
      const time = numbers(m, "time_us");
      const msg = hasColumn(m, "message") ? texts(m, "message") : null;
      for (let i = 0; i < level.length; i++) if (ERROR_LEVELS.has(level[i] ?? "")) out.push({ time_us: time[i], what: `${level[i]}: ${clip(msg?.[i] ?? "", 80)}` });
    } else if (hasColumn(m, "outcome") && hasColumn(m, "start_us")) {
      const outcome = texts(m, "outcome");
      const start = numbers(m, "start_us");
      const dur = hasColumn(m, "duration_us") ? numbers(m, "duration_us") : null;
      const mfa = hasColumn(m, "module") ? mfaColumn(m) : null;
      for (let i = 0; i < outcome.length; i++) if (outcome[i] === "exception") out.push({ time_us: start[i] + (dur && dur[i] === dur[i] ? dur[i] : 0), what: `exception in ${mfa?.[i] ?? "a call"}` });
    } else {
      throw new Error(`metricsChart markers: expected a logs table (level, time_us), a calls table (outcome, start_us) or times in µs; got columns ${m.columnNames().join(", ")}`);
    }
  }
  return out.filter((x) => Number.isFinite(x.time_us)).sort((a, b) => a.time_us - b.time_us);
}

/**
 * A node's vital signs over time (memory, process count, run queue, scheduler use), stacked on one time axis,
 * with a rule at each error given in `markers` (a logs or calls table). Takes a `%probe --metrics` table.
 * @example metricsChart(vitals, { markers: logs })
 */
export function metricsChart(metrics: ColumnTable, options: MetricsChartOptions = {}): ChartSpec {
  requireColumns(metrics, ["time_us"], "metricsChart");
  const series = METRIC_SERIES.filter((s) => hasColumn(metrics, s.column));
  if (!series.length) throw new Error(`metricsChart needs at least one of ${METRIC_SERIES.map((s) => s.column).join(", ")}`);
  const withNode = hasColumn(metrics, "node");
  const n = metrics.numRows();
  const time = numbers(metrics, "time_us");
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const t of time) if (t === t) (t0 = Math.min(t0, t)), (t1 = Math.max(t1, t));
  if (!(t1 >= t0)) t0 = t1 = 0;

  // Average into time buckets (in Arquero) when there are more samples than fit.
  const nodes = withNode ? new Set(Array.from(values(metrics, "node"))).size : 1;
  const maxSamples = Math.max(10, Math.min(options.maxSamples ?? 600, Math.floor((MAX_VALUES * 0.9) / series.length / nodes)));
  let table = metrics;
  let bucketed = false;
  if (n > maxSamples * nodes) {
    const width = Math.max(1, (t1 - t0) / maxSamples);
    const keys = withNode ? ["node", "bucket"] : ["bucket"];
    const rollup: Record<string, unknown> = { time_us: aq.op.mean("time_us") };
    for (const s of series) rollup[s.column] = aq.op.mean(s.column);
    table = metrics
      .params({ t0, width, last: maxSamples - 1 })
      .derive({ bucket: "(d, $) => op.least(op.floor((d.time_us - $.t0) / $.width), $.last)" })
      .groupby(...keys)
      .rollup(rollup as never)
      .orderby(...keys);
    bucketed = true;
  }
  const tt = numbers(table, "time_us");
  const node = withNode ? values(table, "node") : null;
  const cols = series.map((s) => numbers(table, s.column));
  const data: { node: string; t_s: number; series: string; value: number | null }[] = [];
  for (let i = 0; i < tt.length; i++) {
    series.forEach((s, k) => {
      const v = cols[k][i];
      data.push({ node: node ? String(plain(node[i])) : "", t_s: r3((tt[i] - t0) / 1e6), series: s.title, value: v === v ? Number((v * s.scale).toPrecision(6)) : null });
    });
  }

  const allMarkers = errorMarkers(options.markers).filter((m) => m.time_us >= t0 - 0.05 * (t1 - t0) && m.time_us <= t1 + 0.05 * (t1 - t0));
  const maxMarkers = Math.max(0, Math.min(options.maxMarkers ?? 100, 250));
  const markers = evenPositions(allMarkers.length, maxMarkers).map((k) => ({ t_s: r3((allMarkers[k].time_us - t0) / 1e6), what: allMarkers[k].what }));

  const x = { field: "t_s", type: "quantitative", title: "time since first sample (s)" };
  const panel = (s: Series) => ({
    name: s.column,
    width: 620,
    height: 110,
    layer: [
      {
        name: `${s.column}_line`,
        transform: [{ filter: { field: "series", equal: s.title } }],
        // Samples are what was measured, nothing between them: straight segments for gauges, steps for counts
        // (a count holds until the next sample), never a smoothed curve that invents values.
        mark: { type: "line", interpolate: s.count ? "step-after" : "linear", point: n <= 60, tooltip: true },
        encoding: {
          x,
          y: {
            field: "value",
            type: "quantitative",
            title: s.title,
            scale: { zero: s.column !== "memory_total" },
            axis: s.count ? { format: "d", tickMinStep: 1 } : {},
          },
          color: { field: "node", type: "nominal", title: "node", legend: nodes > 1 ? {} : null },
        },
      },
      {
        name: `${s.column}_errors`,
        data: { values: markers },
        mark: { type: "rule", color: ALERT, strokeDash: [3, 3], tooltip: true },
        encoding: { x, tooltip: [{ field: "what", title: "error" }, { field: "t_s", title: "at (s)" }] },
      },
    ],
  });
  const at = t0 > 0 ? new Date(t0 / 1000).toISOString() : undefined;
  return {
    ...baseSpec("Node metrics", [
      `${n.toLocaleString("en")} samples over ${formatUs(t1 - t0)}${at ? ` from ${at}` : ""}${bucketed ? `, averaged into ${maxSamples.toLocaleString("en")} time buckets` : ""}`,
      allMarkers.length ? `dashed rules: ${allMarkers.length} error${allMarkers.length === 1 ? "" : "s"}` : undefined,
      keptNote(markers.length, allMarkers.length, "errors", "{n} evenly spaced"),
    ]),
    data: { values: data },
    vconcat: series.map(panel),
    resolve: { scale: { x: "shared" } },
  };
}

/**
 * When each call ran: spans on one swimlane per process, nested calls offset below their callers (nesting
 * recomputed from the spans drawn, as callTree does). Above, an overview of all calls over time with an
 * interval brush; brushing filters and zooms the detail view. More spans than `maxSpans`: the longest are
 * kept (they are the ones visible at any zoom) and the subtitle says so.
 */
import { type ColumnTable } from "../analysis/aq";
import { callTree } from "../analysis/callTree";
import { hasColumn, numbers, requireColumns, rowNumbers, values } from "../analysis/columns";
import { formatUs } from "../analysis/stats";
import { baseSpec, type ChartSpec } from "./theme";
import { keptNote, MAX_VALUES, plain, r3, topPositions } from "./data";

export interface TimelineOptions {
  /** Most spans drawn (2000; at most 4,800 so the spec stays small). */
  maxSpans?: number;
  /** Functions given their own colour, the most time-consuming first; the rest share one (9). */
  maxColours?: number;
}

const OVERVIEW_BINS = 100;
/**
 * Plot width and the most a lane's label takes: with the legend below the plot, the whole chart stays within a
 * notebook's output area (about 860 px; classic Notebook's is narrower than JupyterLab's).
 */
const WIDTH = 620;
const LABEL_LIMIT = 150;
/** About how tall the detail view is when lanes and depths are many. */
const DETAIL_HEIGHT = 480;

/**
 * When each call ran: spans on one swimlane per process, nested calls below their callers, with an overview
 * to brush and zoom. Takes a calls table; returns a Vega-Lite spec.
 * @example timelineChart(orders)
 */
export function timelineChart(calls: ColumnTable, options: TimelineOptions = {}): ChartSpec {
  requireColumns(calls, ["pid", "module", "function", "arity", "start_us", "duration_us"], "timelineChart");
  const maxSpans = Math.max(1, Math.min(options.maxSpans ?? 2000, MAX_VALUES - OVERVIEW_BINS - 100));
  const maxColours = options.maxColours ?? 9;
  const n = calls.numRows();
  const start = numbers(calls, "start_us");
  const dur = numbers(calls, "duration_us");

  let t0 = Infinity;
  let t1 = -Infinity;
  for (let i = 0; i < n; i++) {
    if (start[i] < t0) t0 = start[i];
    const e = start[i] + (dur[i] === dur[i] ? dur[i] : 0);
    if (e > t1) t1 = e;
  }
  if (!(t1 >= t0)) t0 = t1 = 0;

  // Overview: calls started per time bin, over all rows.
  const width = Math.max(1, t1 - t0);
  const counts = new Float64Array(OVERVIEW_BINS);
  for (let i = 0; i < n; i++) if (start[i] === start[i]) counts[Math.min(OVERVIEW_BINS - 1, Math.floor(((start[i] - t0) / width) * OVERVIEW_BINS))]++;
  const overview = Array.from(counts, (c, b) => ({ t_ms: r3(((b / OVERVIEW_BINS) * width) / 1000), t2_ms: r3((((b + 1) / OVERVIEW_BINS) * width) / 1000), calls: c }));

  // Detail: the longest spans, nested afresh among themselves.
  const kept = topPositions(dur, maxSpans);
  const subset = calls.ungroup().reify(Array.from(rowNumbers(calls, kept)));
  const tree = callTree(subset);
  const ids = values<number>(tree, "id");
  const depth = values<number>(tree, "depth");
  const mfa = values<string>(tree, "mfa");
  const sStart = numbers(subset, "start_us");
  const sDur = numbers(subset, "duration_us");
  const pid = values<unknown>(subset, "pid");
  const proc = hasColumn(subset, "process") ? values<unknown>(subset, "process") : null;
  const node = hasColumn(subset, "node") ? values<unknown>(subset, "node") : null;
  const manyNodes = node ? new Set(Array.from(node)).size > 1 : false;
  // A lane per process, labelled with its registered name where any of its rows has one.
  const procKey = (i: number) => `${node ? plain(node[i]) : ""} ${plain(pid[i])}`;
  const names = new Map<string, string>();
  if (proc) for (let i = 0; i < subset.numRows(); i++) if (proc[i] != null && !names.has(procKey(i))) names.set(procKey(i), String(plain(proc[i])));
  const lane = (i: number) => {
    const name = names.get(procKey(i));
    const label = name ? `${name} ${plain(pid[i])}` : String(plain(pid[i]));
    return manyNodes ? `${plain(node![i])} ${label}` : label;
  };

  // Colours for the functions with the most time among the drawn spans.
  const time = new Map<string, number>();
  for (let k = 0; k < ids.length; k++) time.set(mfa[k], (time.get(mfa[k]) ?? 0) + (sDur[ids[k]] || 0));
  const coloured = new Set([...time].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxColours).map(([m]) => m));

  const spans = Array.from({ length: ids.length }, (_, k) => {
    const i = ids[k];
    const d = sDur[i] === sDur[i] ? sDur[i] : 0;
    return {
      lane: lane(i),
      depth: depth[k],
      fn: coloured.has(mfa[k]) ? mfa[k] : "(other)",
      mfa: mfa[k],
      start_ms: r3((sStart[i] - t0) / 1000),
      end_ms: r3((sStart[i] + d - t0) / 1000),
      duration_us: d,
    };
  });
  const lanes = [...new Set(spans.map((s) => s.lane))];
  const maxDepth = spans.reduce((m, s) => Math.max(m, s.depth), 0);
  const at = Number.isFinite(t0) && t0 > 0 ? new Date(t0 / 1000).toISOString() : undefined;

  const overlap = "!isValid(brush.t_ms) || (datum.end_ms >= brush.t_ms[0] && datum.start_ms <= brush.t_ms[1])";
  return {
    ...baseSpec("Call timeline", [
      `${n.toLocaleString("en")} calls on ${lanes.length.toLocaleString("en")} process${lanes.length === 1 ? "" : "es"} over ${formatUs(t1 - t0)}${at ? `, from ${at}` : ""}`,
      keptNote(spans.length, n, "calls", "the {n} longest"),
      "drag across the overview to zoom",
    ]),
    vconcat: [
      {
        name: "overview",
        width: WIDTH,
        height: 50,
        data: { values: overview },
        params: [{ name: "brush", select: { type: "interval", encodings: ["x"] } }],
        mark: { type: "rect", color: "#888888" },
        encoding: {
          x: { field: "t_ms", type: "quantitative", title: "time since first call (ms)" },
          x2: { field: "t2_ms" },
          y: { field: "calls", type: "quantitative", title: "calls started", axis: { tickCount: 2 } },
          y2: { datum: 0 },
        },
      },
      {
        name: "spans",
        width: WIDTH,
        // With a yOffset channel the step is each depth's band inside a lane: up to 8 px, the whole detail about
        // DETAIL_HEIGHT tall, never under 2 px.
        height: { step: Math.max(2, Math.min(8, Math.floor(DETAIL_HEIGHT / (lanes.length * (maxDepth + 1))))) },
        data: { values: spans },
        transform: [{ filter: overlap }],
        mark: { type: "rect", clip: true, tooltip: true },
        encoding: {
          x: { field: "start_ms", type: "quantitative", title: "time since first call (ms)", scale: { domain: { param: "brush", encoding: "x" } } },
          x2: { field: "end_ms" },
          y: { field: "lane", type: "nominal", sort: lanes, title: "process", scale: { paddingInner: 0.2 }, axis: { labelLimit: LABEL_LIMIT } },
          yOffset: { field: "depth", type: "ordinal", scale: { domain: Array.from({ length: maxDepth + 1 }, (_, d) => d) } },
          color: { field: "fn", type: "nominal", title: "function", sort: [...coloured, "(other)"], legend: { orient: "bottom", columns: 2, labelLimit: WIDTH / 2 - 30 } },
          tooltip: [
            { field: "mfa", title: "function" },
            { field: "lane", title: "process" },
            { field: "start_ms", title: "start (ms)", format: ",.3f" },
            { field: "duration_us", title: "duration (µs)", format: ",.0f" },
            { field: "depth", title: "depth" },
          ],
        },
      },
    ],
  };
}


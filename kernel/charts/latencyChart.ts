/**
 * How long each function takes: a histogram of duration_us per `Mod.fun/arity` on a log scale (latency
 * spans orders of magnitude). The bins are counted in Arquero on log10(duration), so a million calls embed
 * only a few hundred bins. Given a latencyTable result instead, it draws p50 / p90 / p99 / max per function.
 */
import { aq, type ColumnTable } from "../analysis/aq";
import { groupCodes, hasColumn, mfaLabel, numbers, requireColumns, values } from "../analysis/columns";
import { baseSpec, type ChartSpec } from "./theme";
import { keptNote, MAX_VALUES, plain } from "./data";

export interface LatencyChartOptions {
  /** Further columns to split by (e.g. ["node"]): each combination gets its own histogram. */
  by?: string[];
  /** Histogram bins per factor of ten (10). */
  binsPerDecade?: number;
  /** Functions drawn, the most called first; the rest are drawn together as "(other)" (12). */
  maxFunctions?: number;
}

/**
 * How long each function takes: a log-scale histogram of `duration_us` per `Mod.fun/arity` (given a calls
 * table), or p50 / p90 / p99 / max per function (given a latencyTable result). Returns a Vega-Lite spec.
 * @example latencyChart(orders, { by: ["node"] })
 */
export function latencyChart(callsOrLatency: ColumnTable, options: LatencyChartOptions = {}): ChartSpec {
  return hasColumn(callsOrLatency, "duration_us") ? histogram(callsOrLatency, options) : percentiles(callsOrLatency, options);
}

const OTHER = "(other)";
/** Bins per function in the combined key (bin = floor(log10(µs) · binsPerDecade) stays far below). */
const KEY_SPAN = 100_000;

function histogram(calls: ColumnTable, options: LatencyChartOptions): ChartSpec {
  const by = options.by ?? [];
  const bpd = Math.max(1, Math.min(100, Math.round(options.binsPerDecade ?? 10)));
  const maxFunctions = options.maxFunctions ?? 12;
  requireColumns(calls, ["module", "function", "arity", "duration_us", ...by], "latencyChart");
  // One integer key per (function, bin), grouped and counted in Arquero: a single numeric key groups a
  // million rows several times faster than four string keys. Durations under 1 µs fall in the first bin,
  // [1 µs, …); null durations are left out.
  const fns = groupCodes(calls, ["module", "function", "arity", ...by]);
  const counted = aq
    .table({ fn: fns.codes, duration_us: numbers(calls, "duration_us") })
    .params({ bpd, span: KEY_SPAN })
    .derive({ key: "(d, $) => d.duration_us === d.duration_us ? d.fn * $.span + op.floor(op.log10(op.greatest(d.duration_us, 1)) * $.bpd) : -1" })
    .groupby("key")
    .count({ as: "count" })
    .filter("d => d.key >= 0");
  const keys = values<number>(counted, "key");
  const count = values<number>(counted, "count");
  const n = keys.length;
  const fnLabels = fns.keys[0].map((m, g) => [mfaLabel(m, fns.keys[1][g], fns.keys[2][g]), ...by.map((_, k) => String(plain(fns.keys[3 + k][g])))].join(" · "));
  const labels = Array.from({ length: n }, (_, i) => fnLabels[Math.floor(keys[i] / KEY_SPAN)]);
  const bin = Array.from({ length: n }, (_, i) => keys[i] % KEY_SPAN);

  // The most called functions get their own histogram; the rest share one.
  const totals = new Map<string, number>();
  labels.forEach((l, i) => totals.set(l, (totals.get(l) ?? 0) + count[i]));
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const maxRows = Math.max(1, Math.min(maxFunctions, Math.floor(MAX_VALUES / Math.max(1, new Set(bin).size)) - 1));
  const shown = new Set(ranked.slice(0, maxRows).map(([l]) => l));
  const cells = new Map<string, { label: string; bin: number; count: number }>();
  for (let i = 0; i < n; i++) {
    const label = shown.has(labels[i]) ? labels[i] : OTHER;
    const key = `${label}\u0000${bin[i]}`;
    const c = cells.get(key) ?? { label, bin: bin[i], count: 0 };
    c.count += count[i];
    cells.set(key, c);
  }
  const data = [...cells.values()].map((c) => ({
    fn: c.label,
    lo_us: Number((10 ** (c.bin / bpd)).toPrecision(6)),
    hi_us: Number((10 ** ((c.bin + 1) / bpd)).toPrecision(6)),
    calls: c.count,
  }));
  const order = [...ranked.slice(0, maxRows).map(([l]) => l), ...(ranked.length > maxRows ? [OTHER] : [])];
  const total = ranked.reduce((s, [, c]) => s + c, 0);

  return {
    ...baseSpec("Call latency by function", [
      `${total.toLocaleString("en")} calls, ${bpd} log-spaced bins per decade`,
      ranked.length > maxRows && `${ranked.length - maxRows} less-called functions drawn together as ${OTHER}`,
    ]),
    data: { values: data },
    facet: {
      row: { field: "fn", type: "nominal", sort: order, title: null, header: { labelAngle: 0, labelAlign: "left", labelAnchor: "start", labelOrient: "top" } },
    },
    spec: {
      name: "bins",
      width: 560,
      height: 70,
      mark: { type: "rect", tooltip: true },
      encoding: {
        x: { field: "lo_us", type: "quantitative", scale: { type: "log" }, axis: decadeAxis(data.map((d) => d.lo_us), data.map((d) => d.hi_us)), title: "call duration (µs, log scale)" },
        x2: { field: "hi_us" },
        y: { field: "calls", type: "quantitative", title: "calls" },
        y2: { datum: 0 },
        color: { value: "#0072B2" },
        tooltip: [
          { field: "fn", title: "function" },
          { field: "lo_us", title: "from (µs)", format: ",.4~g" },
          { field: "hi_us", title: "to (µs)", format: ",.4~g" },
          { field: "calls", title: "calls", format: "," },
        ],
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}

/**
 * A log axis ticked, labelled and gridded at the powers of ten only. Vega's default puts a grid line at every
 * 2…9 multiple as well: ~45 lines a panel, which in a chart of a dozen functions is most of what its picture
 * costs to draw, and more than a reader can use.
 */
function decadeAxis(lows: number[], highs: number[]): { values: number[] } | undefined {
  const positive = lows.filter((v) => v > 0);
  if (!positive.length) return undefined;
  const from = Math.floor(Math.log10(Math.min(...positive)));
  const to = Math.ceil(Math.log10(Math.max(...highs)));
  return { values: Array.from({ length: to - from + 1 }, (_, i) => Number((10 ** (from + i)).toPrecision(6))) };
}

function percentiles(latency: ColumnTable, options: LatencyChartOptions): ChartSpec {
  requireColumns(latency, ["mfa", "p50_us", "p90_us", "p99_us", "max_us"], "latencyChart (on a latencyTable result)");
  const by = (options.by ?? []).filter((c) => hasColumn(latency, c));
  const rows = latency.objects({ limit: Math.floor(MAX_VALUES / 4) }) as Record<string, unknown>[];
  const stats = ["p50_us", "p90_us", "p99_us", "max_us"] as const;
  const label = (r: Record<string, unknown>) => [String(r.mfa), ...by.map((c) => String(plain(r[c])))].join(" · ");
  const points = rows.flatMap((r) => stats.map((s) => ({ fn: label(r), stat: s.replace("_us", ""), us: plain(r[s]), calls: plain(r.count) })));
  const ranges = rows.map((r) => ({ fn: label(r), lo: plain(r.p50_us), hi: plain(r.max_us) }));
  const order = rows.map(label);
  const y = { field: "fn", type: "nominal", sort: order, title: "function" };
  return {
    ...baseSpec("Call latency percentiles by function", [
      "nearest-rank p50, p90, p99 and max",
      keptNote(rows.length, latency.numRows(), "functions", "the first {n}"),
    ]),
    width: 560,
    height: { step: 18 },
    layer: [
      { name: "ranges", data: { values: ranges }, mark: "rule", encoding: { y, x: { field: "lo", type: "quantitative", scale: { type: "log" }, title: "call duration (µs, log scale)" }, x2: { field: "hi" } } },
      {
        name: "percentiles",
        data: { values: points },
        mark: { type: "point", filled: true, size: 50, tooltip: true },
        encoding: {
          y,
          x: { field: "us", type: "quantitative", scale: { type: "log" } },
          color: { field: "stat", type: "nominal", sort: ["p50", "p90", "p99", "max"], title: "percentile" },
          shape: { field: "stat", type: "nominal", sort: ["p50", "p90", "p99", "max"], title: "percentile" },
        },
      },
    ],
  };
}

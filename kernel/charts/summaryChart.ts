/**
 * Percentiles over time from a `--summary` probe's table: for one function, the 99th percentile of each node
 * (one thin line per node, so the slow node stands out) and the merged p50, p90 and p99 over every node
 * (thick grey lines, dashed by percentile). With a single node, that node's p50, p90 and p99. Durations in ms
 * on a log scale: a node ten times slower is as far from the others at every level.
 */
import type { ColumnTable } from "../analysis/aq";
import { numbers, requireColumns, texts } from "../analysis/columns";
import { baseSpec, CATEGORY, GREY, type ChartSpec } from "./theme";
import { MAX_VALUES, r3 } from "./data";

export interface SummaryChartOptions {
  /** The function drawn (as in the table's `function` column); default: the one with the most calls. */
  function?: string;
  /** Most nodes drawn, the slowest by their highest p99 (10). */
  maxNodes?: number;
}

const QUANTILES = [
  { column: "p50_us", label: "p50", dash: [2, 2] },
  { column: "p90_us", label: "p90", dash: [6, 3] },
  { column: "p99_us", label: "p99", dash: [1, 0] },
] as const;

/**
 * Per-node and merged percentiles of one function over time, from a `summary` table (`%probe … --summary`).
 * @example summaryChart(orders, { function: "checkout:place/1" })
 */
export function summaryChart(table: ColumnTable, options: SummaryChartOptions = {}): ChartSpec {
  requireColumns(table, ["time_us", "node", "function", "count", "p50_us", "p90_us", "p99_us"], "summaryChart");
  const fn = texts(table, "function");
  const node = texts(table, "node");
  const time = numbers(table, "time_us");
  const count = numbers(table, "count");
  const q = QUANTILES.map((x) => numbers(table, x.column));
  const calls = new Map<string, number>();
  for (let i = 0; i < fn.length; i++) if (node[i] !== "all") calls.set(fn[i]!, (calls.get(fn[i]!) ?? 0) + count[i]);
  const chosen = options.function ?? [...calls].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (chosen === undefined) throw new Error("summaryChart: the table has no rows yet (a summary ships its first sketches after one --every interval)");
  if (!calls.has(chosen)) throw new Error(`summaryChart: no function ${chosen} in the table (it has ${[...calls.keys()].join(", ")})`);

  const rows = [...fn.keys()].filter((i) => fn[i] === chosen);
  const merged = rows.some((i) => node[i] === "all");
  const t0 = Math.min(...rows.map((i) => time[i]));
  // The slowest nodes by their highest p99, at most maxNodes of them (and within the data budget).
  const worst = new Map<string, number>();
  for (const i of rows) if (node[i] !== "all") worst.set(node[i]!, Math.max(worst.get(node[i]!) ?? 0, q[2][i] === q[2][i] ? q[2][i] : 0));
  const intervals = new Set(rows.map((i) => time[i])).size;
  const maxNodes = Math.max(1, Math.min(options.maxNodes ?? 10, Math.floor(MAX_VALUES / Math.max(1, intervals) / (merged ? 1 : 3)) - 3));
  const shown = new Set([...worst].sort((a, b) => b[1] - a[1]).slice(0, maxNodes).map(([n]) => n));

  const data: { t_s: number; node: string; line: string; quantile: string; ms: number | null; count: number }[] = [];
  for (const i of rows) {
    const isAll = node[i] === "all";
    if (!isAll && !shown.has(node[i]!)) continue;
    QUANTILES.forEach((x, k) => {
      // Across nodes: each node's p99, and the merge's three; on one node: its three.
      if (merged && !isAll && x.label !== "p99") return;
      const v = q[k][i];
      data.push({
        t_s: r3((time[i] - t0) / 1e6),
        node: isAll ? "all nodes (merged)" : node[i]!,
        line: isAll ? `merged ${x.label}` : merged ? node[i]! : `${node[i]} ${x.label}`,
        quantile: x.label,
        ms: v === v ? Number((v / 1000).toPrecision(5)) : null,
        count: count[i],
      });
    });
  }
  const nodes = worst.size;
  return {
    ...baseSpec(`${chosen}: latency percentiles over time`, [
      merged ? `thin lines: each node's p99 (${shown.size < nodes ? `the ${shown.size} slowest of ${nodes} nodes` : `${nodes} nodes`}); thick grey: p50, p90, p99 merged over every node` : "p50, p90 and p99 per interval",
      `${intervals} interval${intervals === 1 ? "" : "s"}; percentiles read from sketches (relative error as the table's caption says)`,
    ]),
    data: { values: data },
    width: 620,
    height: 280,
    mark: { type: "line", point: intervals <= 60, tooltip: true },
    encoding: {
      x: { field: "t_s", type: "quantitative", title: "time since the first interval ended (s)" },
      y: { field: "ms", type: "quantitative", title: "duration (ms, log scale)", scale: { type: "log" } },
      detail: { field: "line", type: "nominal" },
      color: merged
        ? { field: "node", type: "nominal", title: "node", scale: { domain: [...shown, "all nodes (merged)"], range: [...shownColors(shown.size), GREY] } }
        : { field: "quantile", type: "nominal", title: "percentile" },
      strokeDash: { field: "quantile", type: "nominal", title: "percentile", scale: { domain: QUANTILES.map((x) => x.label), range: QUANTILES.map((x) => x.dash) } },
      strokeWidth: merged ? { condition: { test: "datum.node === 'all nodes (merged)'", value: 3.5 }, value: 1.5 } : { value: 2 },
      tooltip: [
        { field: "node", title: "node" },
        { field: "quantile", title: "percentile" },
        { field: "ms", title: "ms" },
        { field: "count", title: "calls in the interval" },
        { field: "t_s", title: "at (s)" },
      ],
    },
  } as ChartSpec;
}

/** A colour per node drawn (the merged lines are grey, which the palette also has: leave it out). */
function shownColors(n: number): string[] {
  const palette = CATEGORY.filter((c) => c !== "#999999");
  return Array.from({ length: n }, (_, i) => palette[i % palette.length]);
}

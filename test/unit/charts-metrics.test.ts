import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { errorMarkers, metricsChart } from "../../kernel/charts/metricsChart";
import { countDataValues } from "../../kernel/charts/data";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;
const sample = (i: number, node = "a@h") => ({
  node, time_us: T + i * 1e6, memory_total: (50 + i) * 1024 * 1024, memory_processes: 1, memory_binary: 1, memory_ets: 1, memory_atom: 1, memory_code: 1,
  process_count: 300 + i, port_count: 5, run_queue: i % 3, scheduler_utilization: 0.25, reductions_per_s: 1, io_in_bytes_per_s: 0, io_out_bytes_per_s: 0,
});
const logs = aq.from([
  { node: "a@h", time_us: T + 10e6, level: "error", pid: "<0.1.0>", mfa: null, message: "payment failed" },
  { node: "a@h", time_us: T + 12e6, level: "info", pid: "<0.1.0>", mfa: null, message: "ok" },
  { node: "a@h", time_us: T + 20e6, level: "critical", pid: "<0.1.0>", mfa: null, message: "disk" },
]) as unknown as ColumnTable;
const calls = aq.from([
  { node: "a@h", pid: "<0.2.0>", module: "Pay", function: "charge", arity: 2, start_us: T + 5e6, duration_us: 1000, outcome: "exception" },
  { node: "a@h", pid: "<0.2.0>", module: "Pay", function: "charge", arity: 2, start_us: T + 6e6, duration_us: 1000, outcome: "return" },
]) as unknown as ColumnTable;

describe("metricsChart", () => {
  const metrics = aq.from(Array.from({ length: 30 }, (_, i) => sample(i))) as unknown as ColumnTable;

  it("draws memory (MB), processes, run queue and scheduler utilisation (%) as stacked line charts", async () => {
    const spec = metricsChart(metrics);
    const values = (spec.data as { values: { series: string; value: number; t_s: number }[] }).values;
    expect(values.filter((v) => v.t_s === 2).map((v) => [v.series, v.value])).toEqual([
      ["memory total (MB)", 52],
      ["processes (count)", 302],
      ["run queue (processes waiting)", 2],
      ["scheduler utilisation (%)", 25],
    ]);
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "line")).toBe(4);
    expect(countMarks(svg, "rule", "errors")).toBe(0);
  });

  it("draws counts as steps with whole-number axes and gauges as straight segments, never smoothed curves", () => {
    const spec = metricsChart(metrics);
    const lines = (spec.vconcat as { name: string; layer: { mark: { interpolate: string }; encoding: { y: { axis: Record<string, unknown> } } }[] }[]).map((p) => [p.name, p.layer[0].mark.interpolate, p.layer[0].encoding.y.axis.format ?? null]);
    expect(lines).toEqual([
      ["memory_total", "linear", null],
      ["process_count", "step-after", "d"],
      ["run_queue", "step-after", "d"],
      ["scheduler_utilization", "linear", null],
    ]);
    expect(JSON.stringify(spec)).not.toContain("monotone");
  });

  it("marks error log rows and calls that raised with rules in every panel", async () => {
    expect(errorMarkers([logs, calls]).map((m) => [m.time_us - T, m.what])).toEqual([
      [5e6 + 1000, "exception in Pay.charge/2"],
      [10e6, "error: payment failed"],
      [20e6, "critical: disk"],
    ]);
    const spec = metricsChart(metrics, { markers: [logs, calls] });
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rule", "errors")).toBe(3 * 4);
    expect(countMarks(svg, "rule", "memory_total_errors")).toBe(3);
    expect(spec.title.subtitle).toContain("dashed rules: 3 errors");
    expect(countMarks(await renderSvg(metricsChart(metrics, { markers: [T + 1e6] })), "rule", "errors")).toBe(4);
  });

  it("averages long series into time buckets in Arquero, per node", async () => {
    const long = aq.from([...Array.from({ length: 5000 }, (_, i) => sample(i)), ...Array.from({ length: 5000 }, (_, i) => sample(i, "b@h"))]) as unknown as ColumnTable;
    const spec = metricsChart(long, { maxSamples: 100 });
    expect(countDataValues(spec)).toBeLessThanOrEqual(5000);
    const values = (spec.data as { values: { node: string; series: string; value: number }[] }).values;
    expect(values.filter((v) => v.node === "a@h" && v.series === "processes (count)")).toHaveLength(100);
    expect(spec.title.subtitle?.[0]).toContain("averaged into 100 time buckets");
    // the first bucket of 50 samples: processes 300…349, mean 324.5
    expect(values.find((v) => v.node === "b@h" && v.series === "processes (count)")!.value).toBe(324.5);
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "line")).toBe(8);
  });
});

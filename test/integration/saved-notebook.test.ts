/**
 * A notebook executed headless by nbconvert (nbclient), in a folder of its own outside the repository, as a
 * colleague receives it: the saved file ends in each probe's final status, and its static HTML (nbconvert's
 * own export) opened in headless Chromium shows every chart — measured as non-white pixels in each chart's
 * area, with a control that proves a blank chart (an SVG-only output, which nbconvert's HTML empties) fails.
 * Screenshots are kept in test-artifacts/.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, kernelspecDir, ofType, startKernel } from "../support/jupyter";
import { screenshot } from "../support/chromium";
import { decodePng, nonWhite } from "../support/png";

interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
}
interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

const join = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join("") : (v ?? ""));
const NODE = `saved${process.pid}`;

const code = (source: string): Cell => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null });
const markdown = (source: string): Cell => ({ cell_type: "markdown", source, metadata: {} });

/** The charts, each in its own cell: the marker is how the test finds it again. */
const CHARTS: Record<string, string> = {
  latency: "latencyChart(calls)",
  timeline: "timelineChart(calls)",
  flame: "flameChart(calls)",
  metrics: "metricsChart(vitals)",
  sequence: "sequenceChart(msgs)",
  state: "stateHistoryChart(states)",
  bars: `({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", title: "Three bars", data: { values: [{ a: "x", b: 1 }, { a: "y", b: 2 }, { a: "z", b: 3 }] }, mark: "bar", encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } } })`,
};

const SYNTHETIC = `const T = Date.now() * 1000;
const msg = (t: number, event: string, from: string, to: string, protocol: string) => ({ node: "a@h", time_us: T + t, event, from_pid: from, from_name: null,
  to_pid: to, to_name: to === "<0.9.0>" ? "Shop.Server" : null, protocol, call_id: null, latency_us: null, message: "{:" + protocol + "}", size_words: 2 });
const msgs = aq.from([msg(0, "send", "<0.1.0>", "<0.9.0>", "call"), msg(400, "send", "<0.9.0>", "<0.1.0>", "reply"), msg(500, "send", "<0.9.0>", "<0.20.0>", "cast"), msg(900, "send", "<0.20.0>", "<0.1.0>", "info")]);
const states = aq.from(Array.from({ length: 8 }, (_, seq) => ({ node: "a@h", pid: "<0.55.0>", name: "Shop.Cart", seq, time_us: T + seq * 1000, duration_us: 10 + seq,
  kind: seq % 2 ? "call" : "cast", message: "{:add, " + seq + "}", state_before: "%{count: " + seq + "}", state_after: "%{count: " + (seq + 1) + "}",
  state_name_before: null, state_name_after: null, reply: null })));
"ready"`;

function notebook(): Notebook {
  return {
    cells: [
      markdown("# A saved investigation\n\nRun headless, opened by a colleague."),
      code(`%node start ${NODE}`),
      code("%%elixir\ndefmodule Demo do\n  def fib(0), do: 0\n  def fib(1), do: 1\n  def fib(n), do: fib(n - 1) + fib(n - 2)\nend"),
      code("%probe Demo.fib/1 --as fib --limit 5000 --rate 100000/s"),
      code("%%elixir\nDemo.fib(12)"),
      code("%disarm fib\nconst calls = %events fib --wait=5s\ncalls"),
      code("show(calls, { offset: 20, limit: 5 })"),
      code("%events fib --rows 30"),
      code("%probe Demo.fib/1 --as capped --limit 100"),
      code("%%elixir\nDemo.fib(12)"),
      code("%probe --metrics --every 200ms --for 2s --as vitals"),
      code("const vitals = %events vitals --wait=10s"),
      code(SYNTHETIC),
      ...Object.values(CHARTS).map(code),
    ],
    metadata: { kernelspec: { name: "elixirlumin", display_name: "ElixirLumin", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function jupyter(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile("jupyter", args, { env: { ...process.env, ...env }, timeout: 480_000, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) =>
      err ? reject(new Error(`jupyter ${args[0]} failed:\n${stderr.slice(-4000)}`)) : resolve(),
    ),
  );
}

let dir: string;
let env: Record<string, string>;
let executed: Notebook;
const artifacts = path.join(ROOT, "test-artifacts");

const cellWith = (source: string) => {
  const cell = executed.cells.find((c) => c.cell_type === "code" && join(c.source) === source);
  if (!cell) throw new Error(`no cell ${source}`);
  return cell;
};
const plain = (o: Output) => join(o.text) + join(o.data?.["text/plain"] as string | string[]);

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(path.join(os.tmpdir(), "lumin-saved-"));
  env = { JUPYTER_PATH: path.join(kernelspecDir(), "share", "jupyter") };
  writeFileSync(path.join(dir, "saved.ipynb"), JSON.stringify(notebook(), null, 1));
  await jupyter(["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=elixirlumin", "--ExecutePreprocessor.timeout=180", "--output", "executed", path.join(dir, "saved.ipynb")], env);
  executed = JSON.parse(readFileSync(path.join(dir, "executed.ipynb"), "utf8"));
}, 600_000);

afterAll(() => {
  if (executed) copyFileSync(path.join(dir, "executed.ipynb"), path.join(artifacts, "saved-notebook.ipynb"));
});

describe("a notebook saved by nbconvert", () => {
  it("ran without errors", () => {
    const errors = executed.cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue} in ${join(c.source)}`));
    expect(errors).toEqual([]);
  });

  it("ends each probe's status line in its final figures and why it ended, said once", () => {
    const fib = (cellWith("%probe Demo.fib/1 --as fib --limit 5000 --rate 100000/s").outputs ?? []).map(plain).join("\n");
    expect(fib).toMatch(new RegExp(`^fib · Demo\\.fib/1 on ${NODE}@\\S+ · ended · 465 seen, 0 dropped — disarmed by the user$`));
    const capped = (cellWith("%probe Demo.fib/1 --as capped --limit 100").outputs ?? []).map(plain).join("\n");
    expect(capped).toMatch(/^capped · Demo\.fib\/1 on \S+ · ended · 100 seen, \d+ dropped — count budget of 100 calls reached$/);
    expect(capped).not.toMatch(/ended: |armed · 0 seen/);
    const vitals = (cellWith("%probe --metrics --every 200ms --for 2s --as vitals").outputs ?? []).map(plain).join("\n");
    expect(vitals).toMatch(/· ended · \d+ seen, 0 dropped — /);
  });

  it("shows tables people can read, and pages through them", () => {
    const html = (source: string) => (cellWith(source).outputs ?? []).map((o) => join(o.data?.["text/html"] as string | string[])).join("");
    const first = html("%disarm fib\nconst calls = %events fib --wait=5s\ncalls");
    expect(first).toMatch(/<th[^>]*>start_us<br\/><span[^>]*>float · time \(UTC\)</);
    expect(first).toMatch(/<td style="text-align:right[^"]*" title="\d+(\.\d+)?">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}<\/td>/);
    expect(first).toMatch(/<td style="text-align:right[^"]*" title="[\d.]+">[\d.]+ (ns|µs|ms)<\/td>/);
    expect(first).toMatch(/not shown, no value in any row: [^<]*process/);
    expect(first).toMatch(/20 of 465 rows — next: show\(t, \{ offset: 20 \}\)/);
    expect(html("show(calls, { offset: 20, limit: 5 })")).toContain("rows 21–25 of 465");
    const rows30 = html("%events fib --rows 30");
    expect(rows30).toContain("30 of 465 rows");
    expect(rows30.match(/<tr>/g)?.length).toBe(31);
  });

  it("carries, for each chart, the Vega-Lite spec and a PNG sized for a notebook — no SVG that nbconvert's HTML would empty", () => {
    for (const source of Object.values(CHARTS)) {
      const out = (cellWith(source).outputs ?? []).find((o) => o.data?.["application/vnd.vegalite.v5+json"]);
      expect(out, source).toBeTruthy();
      expect(out!.data!["image/svg+xml"]).toBeUndefined();
      const png = decodePng(Buffer.from(join(out!.data!["image/png"] as string), "base64"));
      const shown = (out!.metadata?.["image/png"] ?? {}) as { width?: number; height?: number };
      expect(shown.width, source).toBeGreaterThan(100);
      expect(shown.width, source).toBeLessThanOrEqual(860);
      expect(png.width).toBeGreaterThanOrEqual(shown.width!); // drawn at least at the size shown (2× where it fits)
      expect(nonWhite(png)).toBeGreaterThan(2_000);
    }
  });

  it("shows every chart in nbconvert's static HTML, opened in Chromium", async () => {
    // One page per chart (the chart's cell alone, without its input), so each screenshot is that chart's area;
    // and a control: the bar chart with only the SVG it used to carry, which nbconvert's HTML shows blank.
    const pages: Record<string, Notebook> = {};
    for (const [kind, source] of Object.entries(CHARTS)) pages[kind] = { ...executed, cells: [cellWith(source)] };
    const bars = cellWith(CHARTS.bars).outputs!.find((o) => o.data?.["image/png"])!;
    const { renderSvg } = await import("../../kernel/display/vegaBundle");
    const svgOnly = { ...bars, data: { "image/svg+xml": await renderSvg(bars.data!["application/vnd.vegalite.v5+json"] as never), "text/plain": "<Vega-Lite chart>" }, metadata: {} };
    pages.control = { ...executed, cells: [{ ...cellWith(CHARTS.bars), outputs: [svgOnly] }] };
    const files = Object.keys(pages).map((kind) => {
      const file = path.join(dir, `chart-${kind}.ipynb`);
      writeFileSync(file, JSON.stringify(pages[kind]));
      return file;
    });
    await jupyter(["nbconvert", "--to", "html", "--no-input", ...files], env);
    await jupyter(["nbconvert", "--to", "html", path.join(dir, "executed.ipynb")], env);
    await screenshot(path.join(dir, "executed.html"), path.join(artifacts, "saved-notebook.png"), "1100,6000");

    const counts: Record<string, number> = {};
    for (const kind of Object.keys(pages)) {
      const shot = path.join(artifacts, `saved-chart-${kind}.png`);
      await screenshot(path.join(dir, `chart-${kind}.html`), shot);
      counts[kind] = nonWhite(decodePng(readFileSync(shot)));
    }
    const { control, ...charts } = counts;
    expect(control).toBeLessThan(1_000);
    for (const [kind, n] of Object.entries(charts)) expect(n, `${kind}: ${n} non-white pixels`).toBeGreaterThan(5_000);
  }, 300_000);
});

describe("a probe that ends while no cell runs", () => {
  it("has its final line sent again, as a child of the next cell, so nbclient keeps it", async () => {
    const k = await startKernel({ cwd: os.tmpdir() });
    try {
      expect(ofType(await k.execute(`%node start between${process.pid}`, { timeout: 120 }), "error")).toEqual([]);
      await k.execute("%%elixir\ndefmodule Between do\n  def f(x), do: x\nend");
      const armed = await k.execute("%probe Between.f/1 --as between --limit 3");
      const displayId = ofType(armed, "display_data")[0].content.transient.display_id;
      // The probe ends on its count after this cell has finished: its final status arrives between cells.
      await k.execute("%%elixir\nspawn(fn -> Process.sleep(300); Enum.each(1..5, &Between.f/1) end)\n:ok");
      await new Promise((r) => setTimeout(r, 2000));
      const next = await k.execute("1 + 1");
      const updates = ofType(next, "update_display_data").filter((m) => m.content.transient?.display_id === displayId);
      expect(updates.map((m) => m.content.data["text/plain"])).toEqual([expect.stringMatching(/^between · Between\.f\/1 on \S+ · ended · 3 seen, \d+ dropped — count budget of 3 calls reached$/)]);
      // Once: the cell after gets nothing more.
      expect(ofType(await k.execute("2 + 2"), "update_display_data")).toEqual([]);
    } finally {
      await k.shutdown();
    }
  }, 180_000);
});

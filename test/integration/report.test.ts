/**
 * %export: charts and tables shown in a kernel (through a real Jupyter client) written to one HTML file, then
 * opened in a real headless browser (Debian's chromium) with no network: the charts draw as SVG, with the
 * expected marks and no console error. A screenshot is kept in test-artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startKernel, stdout, type KernelClient } from "../support/jupyter";
import { chromium } from "../support/chromium";

let k: KernelClient;
let dir: string;

beforeAll(async () => {
  k = await startKernel();
  dir = mkdtempSync(path.join(os.tmpdir(), "lumin-report-"));
}, 60_000);
afterAll(async () => {
  await k?.shutdown();
});

describe("%export", () => {
  it("writes a self-contained report whose charts draw in a browser with no network", async () => {
    // A calls table with known content: 3 functions, one nested call, one planted slow call.
    const setup = await k.execute(`const calls = aq.table({
  node: Array(6).fill("shop@host"), pid: ["<0.1.0>", "<0.1.0>", "<0.1.0>", "<0.2.0>", "<0.2.0>", "<0.2.0>"],
  process: Array(6).fill(null), module: ["Shop.Orders", "Shop.Pricing", "Shop.Orders", "Shop.Orders", "Shop.Inventory", "Shop.Orders"],
  function: ["place", "price", "place", "place", "reserve", "place"], arity: [2, 2, 2, 2, 2, 2], depth: [0, 1, 0, 0, 1, 0],
  start_us: [0, 10, 1000, 2000, 2010, 3000], duration_us: [100, 50, 120, 30000, 20, 110], outcome: Array(6).fill("return"),
  result: Array(6).fill(null), exception_class: Array(6).fill(null), exception_reason: Array(6).fill(null), args: Array(6).fill(null),
});
display(latencyTable(calls));
display({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", title: "Three bars", data: { values: [{ a: "x", b: 1 }, { a: "y", b: 2 }, { a: "z", b: 3 }] }, mark: "bar", encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } } });
display(latencyChart(calls));
display(timelineChart(calls));
display(flameChart(calls));`);
    expect(setup.messages.filter((m) => m.msg_type === "error")).toEqual([]);
    const file = path.join(dir, "report.html");
    const r = await k.execute(`%export ${file} --title "Test report"`);
    expect(stdout(r)).toMatch(/Wrote .*report\.html: 4 chart\(s\), 1 table\(s\)/);
    expect(statSync(file).size).toBeGreaterThan(500_000); // vega, vega-lite and vega-embed are inside
    const html = readFileSync(file, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=/); // nothing to fetch

    const profile = mkdtempSync(path.join(os.tmpdir(), "lumin-chromium-"));
    const { stdout: dom, stderr } = await chromium(["--dump-dom", `file://${file}`], profile);
    const consoleErrors = stderr.split("\n").filter((l) => /CONSOLE.*(error|Error)|Uncaught/.test(l));
    expect(consoleErrors).toEqual([]);
    expect(/id="chart-\d+"[^>]*>This chart could not be drawn/.test(dom)).toBe(false);
    // Every chart drew as an SVG; the three-bar chart has exactly three bars.
    expect((dom.match(/<svg[^>]*class="marks"/g) ?? []).length).toBe(4);
    expect((dom.match(/aria-roledescription="bar"/g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(dom.includes("Shop.Orders.place/2")).toBe(true);

    const artifacts = path.join(ROOT, "test-artifacts");
    mkdirSync(artifacts, { recursive: true });
    const shot = path.join(artifacts, "report.png");
    await chromium([`--screenshot=${shot}`, "--window-size=1200,2400", `file://${file}`], profile);
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it("says what to do when there is nothing to export, or the file is not HTML", async () => {
    const k2 = await startKernel();
    try {
      const empty = await k2.execute(`%export ${path.join(dir, "empty.html")}`);
      expect(empty.messages.find((m) => m.msg_type === "error")?.content.evalue).toMatch(/nothing to export yet/);
      const notHtml = await k2.execute(`%export ${path.join(dir, "report.pdf")}`);
      expect(notHtml.messages.find((m) => m.msg_type === "error")?.content.evalue).toMatch(/\.html/);
    } finally {
      await k2.shutdown();
    }
  });
});

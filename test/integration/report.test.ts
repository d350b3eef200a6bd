/**
 * %export: charts and tables shown in a kernel (through a real Jupyter client) written to one HTML file, then
 * opened in a real headless browser (Debian's chromium) with no network: the charts draw as SVG, with the
 * expected marks and no console error. A screenshot is kept in test-artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ofType, ROOT, startKernel, stdout, type KernelClient } from "../support/jupyter";
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

  it("follows the notebook: its markdown between what each cell showed, %explain's sentences, tables titled by their code", async () => {
    const k3 = await startKernel({ cwd: dir });
    try {
      const cells = [
        { cell_type: "markdown", source: "# Slow orders\n\nWe look at **one** slow call, see `place/2`." },
        { cell_type: "code", source: `const orders = aq.table({ node: ["a@h", "a@h", "a@h"], pid: ["<0.1.0>", "<0.1.0>", "<0.2.0>"], process: [null, null, null], module: ["Shop.Orders", "Shop.Orders", "Shop.Orders"],
  function: ["place", "place", "place"], arity: [2, 2, 2], depth: [0, 0, 0], start_us: [0, 1000, 2000], duration_us: [100, 120, 30000], outcome: ["return", "return", "return"],
  result: [null, null, null], exception_class: [null, null, null], exception_reason: [null, null, null], args: [null, null, null] });` },
        { cell_type: "markdown", source: "## Where the time went\n\n- by function\n- by call" },
        { cell_type: "code", source: "latencyTable(orders)" },
        { cell_type: "code", source: "%explain orders" },
        { cell_type: "markdown", source: "The histogram:" },
        { cell_type: "code", source: "latencyChart(orders)" },
      ];
      const nb = path.join(dir, "slow.ipynb");
      writeFileSync(nb, JSON.stringify({ cells: cells.map((c) => ({ ...c, metadata: {}, ...(c.cell_type === "code" ? { outputs: [], execution_count: null } : {}) })), metadata: {}, nbformat: 4, nbformat_minor: 5 }));
      for (const c of cells) if (c.cell_type === "code") expect(ofType(await k3.execute(c.source), "error")).toEqual([]);
      await k3.execute("display(latencyChart(orders))"); // shown by code not in the notebook: comes last

      const listed = stdout(await k3.execute("%export --list"));
      expect(listed).toMatch(/^ {2}1 {2}table {2}latencyTable\(orders\)\n {2}2 {2}text {3}%explain orders\n {2}3 {2}chart {2}Call latency/);

      const r = await k3.execute("%export slow.html --notebook slow.ipynb");
      expect(stdout(r)).toMatch(/Wrote .*slow\.html: 2 chart\(s\), 1 table\(s\), 1 explanation\(s\), the markdown of slow\.ipynb \(3 cell\(s\)\)/);
      const html = readFileSync(path.join(dir, "slow.html"), "utf8");
      const order = ["<h2>Slow orders</h2>", "<strong>one</strong>", "<code>place/2</code>", "<h3>Where the time went</h3>", "<li>by function</li>",
        "<h2>latencyTable(orders)</h2>", "<h2>%explain orders</h2>", "<p>The histogram:</p>", 'id="chart-0"', 'id="chart-1"'];
      const at = order.map((x) => html.indexOf(x));
      expect(at.every((i) => i >= 0), JSON.stringify(order.filter((_, i) => at[i] < 0))).toBe(true);
      expect(at).toEqual([...at].sort((a, b) => a - b));
      const sentences = /<section class="text"><h2>%explain orders<\/h2><ul>((?:<li>[^<]+<\/li>)+)<\/ul>/.exec(html)?.[1] ?? "";
      expect(sentences, html.slice(html.indexOf('<section class="text">'), html.indexOf('<section class="text">') + 600)).toMatch(/place\/2/);
      expect(html).not.toContain("<h2>Table</h2>");

      // Only what was picked.
      const some = await k3.execute("%export some.html --only 1,3");
      expect(stdout(some)).toMatch(/: 1 chart\(s\), 1 table\(s\)\./);
      const bad = await k3.execute("%export some.html --only 9");
      expect(ofType(bad, "error")[0].content.evalue).toMatch(/--only 9 is outside 1-4/);
    } finally {
      await k3.shutdown();
    }
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

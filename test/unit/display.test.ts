/** Display: tables, Vega-Lite specs, own bundles, plain values, and the size bounds. */
import { describe, expect, it } from "vitest";
import { bundleMetadata, toMimeBundle } from "../../kernel/display/mimeBundle";
import { renderSvg } from "../../kernel/display/vegaBundle";
import { decodePng } from "../support/png";
import { aq } from "../../kernel/analysis/aq";
import { TablePageView, showingPage } from "../../kernel/display/tableBundle";
import { formatDuration, formatFloat, formatTime } from "../../kernel/display/columnFormat";

const ANSI = /\u001b\[/;

describe("display", () => {
  it("gives a table HTML with column types and the total row count, plain text, and dataresource JSON", async () => {
    const t = aq.table({ pid: ["<0.1.0>", "<0.2.0>", "<0.3.0>"], duration_us: [1.5, 2, 30.25] });
    const b = await toMimeBundle(t);
    expect(String(b["text/html"])).toMatch(/duration_us/);
    expect(String(b["text/html"])).toMatch(/float/);
    expect(String(b["text/html"])).toMatch(/3 rows/);
    expect(String(b["text/plain"])).toMatch(/<0\.3\.0>/);
    expect(b["application/vnd.dataresource+json"]).toMatchObject({ schema: { fields: expect.arrayContaining([expect.objectContaining({ name: "pid" })]) } });
  });

  it("makes a table readable: units, dates, precision, right-aligned numbers, wide cells cut, empty columns left out", async () => {
    const T = Date.UTC(2026, 11, 2, 4, 3, 31, 666) * 1000 + 403; // 2026-12-02 04:03:31.666403, in µs
    const wide = `%{items: [${Array.from({ length: 40 }, (_, i) => i).join(", ")}]}`;
    const t = aq.table({
      pid: ["<0.1.0>", "<0.2.0>", "<0.3.0>"],
      start_us: [T, T + 1.5, T + 2_000_000],
      duration_us: [1.492, 11_296.4, 2_050_000],
      share: [2, 2.5, 805.1573266666662], // whole at first: still a float column
      whole: Float64Array.from([1, 2, 3]), // floats that happen to be whole
      count: [1, 20_000, 3],
      reply: [wide, "ok", null],
      process: [null, null, null],
    });
    const b = await toMimeBundle(t);
    const html = String(b["text/html"]);
    const cells = [...html.matchAll(/<td style="text-align:(\w+)[^"]*"(?: title="([^"]*)")?>([^<]*)<\/td>/g)].map((m) => ({ align: m[1], title: m[2], text: m[3] }));
    const row = (r: number) => cells.slice(r * 7, r * 7 + 7);
    expect(row(0).map((c) => c.text)).toEqual(["&lt;0.1.0&gt;", "2026-12-02 04:03:31.666403", "1.49 µs", "2", "1", "1", `${wide.slice(0, 59)}…`]);
    expect(row(1).map((c) => c.text)).toEqual(["&lt;0.2.0&gt;", "2026-12-02 04:03:31.666405", "11.3 ms", "2.5", "2", "20,000", "ok"]);
    expect(row(2).map((c) => c.text).slice(1, 4)).toEqual(["2026-12-02 04:03:33.666403", "2.05 s", "805.16"]);
    // Numbers right, text left; the raw value of a formatted number and the whole of a cut cell on hover.
    expect(row(0).map((c) => c.align)).toEqual(["left", "right", "right", "right", "right", "right", "left"]);
    expect(row(0)[2].title).toBe("1.492");
    expect(row(2)[3].title).toBe("805.1573266666662");
    expect(row(0)[6].title).toBe(wide);
    // Column kinds under the names: the float columns say float, durations and times say so.
    const heads = [...html.matchAll(/<th[^>]*>([^<]*)<br\/><span[^>]*>([^<]*)<\/span>/g)].map((m) => [m[1], m[2]]);
    expect(heads).toEqual([["pid", "string"], ["start_us", "float · time (UTC)"], ["duration_us", "float · duration"], ["share", "float"], ["whole", "float"], ["count", "int"], ["reply", "string"]]);
    expect(html).toContain("not shown, no value in any row: process");
    expect(String(b["text/plain"])).toMatch(/^ +1\.49 µs$|1\.49 µs/m);
    // Plain text: numbers right-aligned under their names.
    const plain = String(b["text/plain"]).split("\n");
    expect(plain[0]).toMatch(/ duration_us   share  whole   count  reply$/);
    expect(plain[2]).toMatch(/ {6}1\.49 µs {7}2 {6}1 {7}1  %\{items/);
    expect(plain[4]).toMatch(/ {7}2\.05 s  805\.16 {6}3 {7}3$/);
    // The data keeps every column and the raw values.
    const data = b["application/vnd.dataresource+json"] as { schema: { fields: { name: string; type: string }[] }; data: Record<string, unknown>[] };
    expect(data.data[0]).toMatchObject({ start_us: T, duration_us: 1.492, share: 2, process: null });
    expect(data.schema.fields.find((f) => f.name === "share")?.type).toBe("number");
  });

  it("formats durations, times and floats", () => {
    expect([0.84, 1.492, 999, 1000, 11_296.4, 2_050_000, 200_000_000].map(formatDuration)).toEqual(["840 ns", "1.49 µs", "999 µs", "1 ms", "11.3 ms", "2.05 s", "3 min 20 s"]);
    expect(formatTime(1796179112849299.8)).toBe("2026-12-02 02:38:32.849300");
    expect([805.1573266666662, 1.4921, 0.01234, 0.00001234, 1234567.891].map(formatFloat)).toEqual(["805.16", "1.492", "0.0123", "1.234e-5", "1,234,567.89"]);
  });

  it("shows another page of a table, says which rows, and refuses a page that does not exist", async () => {
    const t = aq.table({ n: Array.from({ length: 100 }, (_, i) => i) });
    const page = await toMimeBundle(new TablePageView(t, { offset: 20, limit: 5 }));
    expect([...String(page["text/html"]).matchAll(/<td[^>]*>(\d+)<\/td>/g)].map((m) => Number(m[1]))).toEqual([20, 21, 22, 23, 24]);
    expect(String(page["text/html"])).toContain("rows 21–25 of 100 — next: show(t, { offset: 25, limit: 5 })");
    // The table itself still shows its first page.
    expect(String((await toMimeBundle(t))["text/plain"])).toMatch(/20 of 100 rows/);
    expect(String((await toMimeBundle(showingPage(t, { limit: 100 })))["text/plain"])).toMatch(/^100 rows$/m);
    expect(() => new TablePageView(t, { offset: 100 })).toThrow(/offset 100 is past the last row \(the table has 100 rows\)/);
    expect(() => new TablePageView(t, { limit: 5000 })).toThrow(/at most 1000 rows a page/);
    expect(() => new TablePageView(t, { offset: -1 })).toThrow(/offset must be a whole number/);
  });

  it("shows only a page of a big table, and says how many rows there are", async () => {
    const t = aq.table({ n: Array.from({ length: 100_000 }, (_, i) => i) });
    const b = await toMimeBundle(t);
    expect(String(b["text/html"])).toMatch(/100,000 rows|100000 rows/);
    expect(String(b["text/html"]).length).toBeLessThan(200_000);
  });

  it("renders a Vega-Lite spec to a PNG in the kernel, beside the spec itself, with the size to show it at", async () => {
    const spec = {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      title: "Three bars",
      data: { values: [{ a: "x", b: 1 }, { a: "y", b: 2 }, { a: "z", b: 3 }] },
      mark: "bar",
      encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } },
    };
    const b = await toMimeBundle(spec);
    expect(b["application/vnd.vegalite.v5+json"]).toEqual(spec);
    expect(b["image/svg+xml"]).toBeUndefined(); // nbconvert's HTML would pick it over the PNG and empty it
    const png = decodePng(Buffer.from(String(b["image/png"]), "base64"));
    const svg = await renderSvg(spec);
    const svgWidth = Number(/width="([\d.]+)"/.exec(svg)![1]);
    expect(bundleMetadata(b)).toEqual({ "image/png": { width: Math.round(svgWidth), height: expect.any(Number) } });
    expect(png.width).toBe(Math.round(svgWidth * 2));
    // Three bars in the chart's blue: count the blue pixel columns along a row through all three bars.
    const row = Math.round(png.height * 0.9);
    let blue = 0;
    for (let x = 0; x < png.width; x++) {
      const o = (row * png.width + x) * 4;
      if (png.rgba[o + 2] > 150 && png.rgba[o] < 120 && png.rgba[o + 3] > 200) blue++;
    }
    expect(blue).toBeGreaterThan(png.width * 0.3);
    expect(b["text/plain"]).toBe("<Vega-Lite chart: Three bars>");
  });

  it("shows a wide chart no wider than a notebook's output area", async () => {
    const wide = { $schema: "https://vega.github.io/schema/vega-lite/v5.json", width: 1600, height: 100, data: { values: [{ a: 1 }] }, mark: "point", encoding: { x: { field: "a", type: "quantitative" } } };
    const b = await toMimeBundle(wide);
    const shown = bundleMetadata(b)["image/png"] as { width: number; height: number };
    expect(shown.width).toBe(860);
    expect(decodePng(Buffer.from(String(b["image/png"]), "base64")).width).toBe(1720);
  });

  it("uses an object's own bundle", async () => {
    const own = { [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<b>mine</b>", "text/plain": "mine" }) };
    expect(await toMimeBundle(own)).toEqual({ "text/html": "<b>mine</b>", "text/plain": "mine" });
  });

  it("shows plain values without colour codes, and cuts a huge one with a note", async () => {
    const b = await toMimeBundle({ nested: { list: [1, 2, 3] }, s: "text" });
    expect(String(b["text/plain"])).not.toMatch(ANSI);
    const huge = await toMimeBundle("x".repeat(3_000_000));
    expect(String(huge["text/plain"]).length).toBeLessThan(1_100_000);
    expect(String(huge["text/plain"])).toMatch(/more characters|output cut/);
  });
});

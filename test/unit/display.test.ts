/** Display: tables, Vega-Lite specs, own bundles, plain values, and the size bounds. */
import { describe, expect, it } from "vitest";
import { bundleMetadata, toMimeBundle } from "../../kernel/display/mimeBundle";
import { renderSvg } from "../../kernel/display/vegaBundle";
import { decodePng } from "../support/png";
import { aq } from "../../kernel/analysis/aq";

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

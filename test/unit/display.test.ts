/** Display: tables, Vega-Lite specs, own bundles, plain values, and the size bounds. */
import { describe, expect, it } from "vitest";
import { toMimeBundle } from "../../kernel/display/mimeBundle";
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

  it("renders a Vega-Lite spec to SVG in the kernel, beside the spec itself", async () => {
    const spec = {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      title: "Three bars",
      data: { values: [{ a: "x", b: 1 }, { a: "y", b: 2 }, { a: "z", b: 3 }] },
      mark: "bar",
      encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } },
    };
    const b = await toMimeBundle(spec);
    expect(b["application/vnd.vegalite.v5+json"]).toEqual(spec);
    expect(String(b["image/svg+xml"])).toMatch(/^<svg/);
    expect((String(b["image/svg+xml"]).match(/<path[^>]*aria-roledescription="bar"/g) ?? []).length).toBe(3);
    expect(b["text/plain"]).toBe("<Vega-Lite chart: Three bars>");
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

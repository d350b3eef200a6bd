import { describe, expect, it } from "vitest";
import { baseSpec, CATEGORY, VEGA_LITE_SCHEMA } from "../../kernel/charts/theme";
import { countDataValues, evenPositions, keptNote, plain, topPositions } from "../../kernel/charts/data";
import { countMarks, markItems } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";

describe("chart data helpers", () => {
  it("spreads sample positions evenly, ends included", () => {
    expect(evenPositions(5, 10)).toEqual([0, 1, 2, 3, 4]);
    expect(evenPositions(101, 5)).toEqual([0, 25, 50, 75, 100]);
    expect(evenPositions(10, 1)).toEqual([0]);
    expect(evenPositions(10, 0)).toEqual([]);
  });

  it("picks the positions of the k largest values, in position order, ties by position", () => {
    expect(topPositions([5, 1, 9, 3, 9, NaN, 7], 3)).toEqual([2, 4, 6]);
    expect(topPositions([2, 2, 2, 2], 2)).toEqual([0, 1]);
    expect(topPositions([1, NaN, 3], 3)).toEqual([0, 1, 2]);
    const big = Float64Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 100_000);
    const top = topPositions(big, 10);
    expect(top.map((i) => big[i]).sort((a, b) => b - a)).toEqual(Array.from({ length: 10 }, (_, k) => 99_999 - k));
  });

  it("notes what was left out, and makes cells plain JSON", () => {
    expect(keptNote(10, 10, "calls", "the {n} longest")).toBeUndefined();
    expect(keptNote(2000, 1_000_000, "calls", "the {n} longest")).toBe("showing the 2,000 longest of 1,000,000 calls");
    expect([plain(null), plain(NaN), plain(Infinity), plain(3), plain("x"), plain({ toString: () => "%{a: 1}" })]).toEqual([null, null, null, 3, "x", "%{a: 1}"]);
    expect(countDataValues({ data: { values: [1, 2] }, vconcat: [{ data: { values: [3] } }, { layer: [{ data: { values: [4, 5, 6] } }] }] })).toBe(6);
  });
});

describe("theme", () => {
  it("gives every spec the v5 schema, a title, a transparent background and the shared config", () => {
    const s = baseSpec("T", ["a", undefined, "b"]);
    expect(s.$schema).toBe(VEGA_LITE_SCHEMA);
    expect(s.title).toEqual({ text: "T", subtitle: ["a", "b"] });
    expect(s.background).toBe("transparent");
    expect((s.config as { range: { category: string[] } }).range.category).toEqual(CATEGORY);
    expect(baseSpec("T").title).toEqual({ text: "T" });
  });
});

describe("markItems", () => {
  it("counts the items vega drew per named mark", async () => {
    const svg = await renderSvg({
      ...baseSpec("marks"),
      data: { values: [{ a: 1 }, { a: 2 }, { a: 3 }] },
      layer: [
        { name: "bars", mark: "rect", encoding: { x: { field: "a", type: "quantitative" }, x2: { datum: 0 }, y: { value: 0 }, y2: { value: 5 } } },
        { name: "ticks", mark: "rule", encoding: { x: { field: "a", type: "quantitative" } } },
        { name: "words", mark: "text", encoding: { x: { field: "a", type: "quantitative" }, text: { field: "a" } } },
      ],
    });
    expect(markItems(svg)).toEqual({ "rect bars_marks": 3, "rule ticks_marks": 3, "text words_marks": 3 });
    expect(countMarks(svg, "rule")).toBe(3);
    expect(countMarks(svg, "text", "words")).toBe(3);
    expect(countMarks(svg, "symbol")).toBe(0);
  });

  it("counts an empty mark (a self-closing group) as none", async () => {
    const svg = await renderSvg({
      ...baseSpec("empty"),
      layer: [
        { name: "none", data: { values: [] }, mark: "text", encoding: { x: { field: "x", type: "quantitative" }, text: { field: "t" } } },
        { name: "one", data: { values: [{ x: 1, t: "q" }] }, mark: "text", encoding: { x: { field: "x", type: "quantitative" }, text: { field: "t" } } },
      ],
    });
    expect(countMarks(svg, "text", "none")).toBe(0);
    expect(countMarks(svg, "text", "one")).toBe(1);
  });
});

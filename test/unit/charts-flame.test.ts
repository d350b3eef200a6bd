import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { flameChart, flameNodes } from "../../kernel/charts/flameChart";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const base = { node: "a@h", pid: "<0.1.0>", module: "M", arity: 0, depth: 0, outcome: "return" };
const calls = (rows: Record<string, unknown>[]) => aq.from(rows.map((r) => ({ ...base, ...r }))) as unknown as ColumnTable;

describe("flameChart", () => {
  // two requests on two processes: a → (b → c, d); and a lone e
  const t = calls([
    { function: "a", start_us: 0, duration_us: 100 },
    { function: "b", start_us: 10, duration_us: 40 },
    { function: "c", start_us: 20, duration_us: 10 },
    { function: "d", start_us: 60, duration_us: 20 },
    { pid: "<0.2.0>", function: "a", start_us: 0, duration_us: 60 },
    { pid: "<0.2.0>", function: "b", start_us: 5, duration_us: 20 },
    { pid: "<0.3.0>", function: "e", start_us: 0, duration_us: 40 },
  ]);

  it("aggregates call-tree stacks into icicle rects: x by cumulative time share, y by depth", () => {
    const { nodes, paths, total_us } = flameNodes(t);
    expect(total_us).toBe(200);
    expect(paths).toBe(5);
    expect(nodes.map((n) => [n.stack, n.depth, n.calls, n.total_us, n.self_us, n.x0, n.x1])).toEqual([
      ["M.a/0", 0, 2, 160, 80, 0, 80],
      ["M.a/0;M.b/0", 1, 2, 60, 50, 0, 30],
      ["M.a/0;M.b/0;M.c/0", 2, 1, 10, 10, 0, 5],
      ["M.a/0;M.d/0", 1, 1, 20, 20, 30, 40],
      ["M.e/0", 0, 1, 40, 40, 80, 100],
    ]);
  });

  it("draws one rect per stack path, labelled where wide enough", async () => {
    const spec = flameChart(t);
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rect", "frames")).toBe(5);
    expect(countMarks(svg, "text", "frame_labels")).toBe(4); // the narrowest, 5% of 740 px = 37 px, is too narrow for a label
    expect(JSON.stringify(spec)).toContain("share of traced time (%)");
  });

  it("leaves out the smallest paths beyond maxNodes, keeping the tree whole", async () => {
    const spec = flameChart(t, { maxNodes: 3 });
    const data = (spec.data as { values: { stack: string }[] }).values.map((d) => d.stack);
    expect(data).toEqual(["M.a/0", "M.a/0;M.b/0", "M.e/0"]);
    expect(spec.title.subtitle).toContain("showing the 3 largest of 5 call paths");
    expect(countMarks(await renderSvg(spec), "rect", "frames")).toBe(3);
  });
});

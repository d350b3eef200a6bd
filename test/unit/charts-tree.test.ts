import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { treeChart, treeLayout } from "../../kernel/charts/treeChart";
import { countMarks } from "../../kernel/charts/svgMarks";
import { renderSvg } from "../../kernel/display/vegaBundle";
import type { ColumnTable } from "../../kernel/analysis/aq";

const row = (supervisor: string | null, supervisor_pid: string | null, child_id: string, pid: string, name: string | null, type: string, depth: number, strategy: string | null = null) => ({
  node: "a@h", application: "shop", supervisor, supervisor_pid, child_id, pid, name, type, restart: "permanent", strategy, depth,
});
const tree = aq.from([
  row(null, null, "Shop.Supervisor", "<0.50.0>", "Shop.Supervisor", "supervisor", 0, "one_for_one"),
  row("Shop.Supervisor", "<0.50.0>", "Shop.Repo", "<0.51.0>", "Shop.Repo", "worker", 1),
  row("Shop.Supervisor", "<0.50.0>", "Shop.Workers", "<0.52.0>", "Shop.Workers", "supervisor", 1, "rest_for_one"),
  row("Shop.Workers", "<0.52.0>", "w1", "<0.53.0>", null, "worker", 2),
  row("Shop.Workers", "<0.52.0>", "w2", "<0.54.0>", null, "worker", 2),
  row("Shop.Supervisor", "<0.50.0>", "Shop.Server", "<0.55.0>", "Shop.Server", "worker", 1),
]) as unknown as ColumnTable;
const T = 1_700_000_000_000_000;
const procs = aq.from([
  { node: "a@h", time_us: T, event: "exit", pid: "<0.40.0>", name: "Shop.Server", other: null, mfa: null, reason: "killed" },
  { node: "a@h", time_us: T + 5, event: "exit", pid: "<0.41.0>", name: "Shop.Server", other: null, mfa: null, reason: "killed" },
  { node: "a@h", time_us: T + 7, event: "spawn", pid: "<0.50.0>", name: null, other: "<0.55.0>", mfa: "Shop.Server.init/1", reason: null },
  { node: "a@h", time_us: T + 9, event: "exit", pid: "<0.54.0>", name: null, other: null, mfa: null, reason: "normal" },
]) as unknown as ColumnTable;

describe("treeChart", () => {
  it("lays the tree out tidily: leaves in order, parents centred on their children", () => {
    const nodes = treeLayout(tree, procs);
    expect(nodes.map((n) => [n.label, n.parent, n.depth, n.y, n.restarts])).toEqual([
      ["Shop.Supervisor (one_for_one)", null, 0, 1.5, 0],
      ["Shop.Repo", 0, 1, 0, 0],
      ["Shop.Workers (rest_for_one)", 0, 1, 1.5, 0],
      ["w1", 2, 2, 1, 0],
      ["w2", 2, 2, 2, 1],
      ["Shop.Server", 0, 1, 3, 2],
    ]);
  });

  it("draws an edge per child, a point and a name per node, and restart counts", async () => {
    const spec = treeChart(tree, { restarts: procs });
    const svg = await renderSvg(spec);
    expect(countMarks(svg, "rule", "edges")).toBe(5);
    expect(countMarks(svg, "symbol", "nodes")).toBe(6);
    expect(countMarks(svg, "text", "names")).toBe(6); // workers' names and supervisors' names
    expect(countMarks(svg, "text", "restarts")).toBe(2);
    expect(svg).toContain("↻ 2");
    expect(spec.title.subtitle).toEqual(["2 supervisors, 4 workers, 3 restarts seen"]);
  });

  it("takes restart counts keyed by child id, name or pid, and draws none without", async () => {
    expect(treeLayout(tree, { w1: 4, "Shop.Repo": 1 }).map((n) => n.restarts)).toEqual([0, 1, 0, 4, 0, 0]);
    const svg = await renderSvg(treeChart(tree));
    expect(countMarks(svg, "text", "restarts")).toBe(0);
  });
});

/**
 * Where the time goes, by call path: an icicle (flame graph with roots on top) built from callTree's
 * folded stacks. Every distinct stack path is one rect whose width is its share of all traced time; its
 * children sit below it, left to right in name order; the tooltip gives total and self time. Over
 * `maxNodes` paths, the smallest are left out (their ancestors are always larger, so the tree stays whole).
 */
import type { ColumnTable } from "../analysis/aq";
import { callTree } from "../analysis/callTree";
import { numbers, values } from "../analysis/columns";
import { formatUs } from "../analysis/stats";
import { baseSpec, type ChartSpec } from "./theme";
import { clip, keptNote, MAX_VALUES, r3 } from "./data";

export interface FlameOptions {
  /** Most stack paths drawn (2000; at most 4,000). */
  maxNodes?: number;
}

export interface FlameNode {
  stack: string;
  mfa: string;
  module: string;
  depth: number;
  calls: number;
  total_us: number;
  self_us: number;
  /** Left and right edges, % of all traced time. */
  x0: number;
  x1: number;
}

const WIDTH_PX = 740; // with its axis, within a notebook's output area (about 860 px)

/** The icicle's rects, computed from a calls table (exported for tests and custom drawings). */
export function flameNodes(calls: ColumnTable, maxNodes = 2000): { nodes: FlameNode[]; paths: number; total_us: number } {
  const tree = callTree(calls);
  const stack = values<string>(tree, "stack");
  const mfa = values<string>(tree, "mfa");
  const depth = values<number>(tree, "depth");
  const dur = numbers(tree, "duration_us");
  const self = numbers(tree, "self_us");

  interface Agg {
    stack: string;
    mfa: string;
    depth: number;
    parent: string | null;
    calls: number;
    total: number;
    self: number;
    children: Agg[];
  }
  const byPath = new Map<string, Agg>();
  for (let i = 0; i < stack.length; i++) {
    let a = byPath.get(stack[i]);
    if (!a) {
      const cut = stack[i].length - mfa[i].length - 1;
      byPath.set(stack[i], (a = { stack: stack[i], mfa: mfa[i], depth: depth[i], parent: cut > 0 ? stack[i].slice(0, cut) : null, calls: 0, total: 0, self: 0, children: [] }));
    }
    a.calls++;
    a.total += dur[i];
    a.self += self[i];
  }
  const all = [...byPath.values()];
  // Keep the largest paths; a parent's total is at least its child's, so ancestors are kept first.
  const keep = new Set(
    [...all]
      .sort((a, b) => b.total - a.total || a.depth - b.depth || (a.stack < b.stack ? -1 : 1))
      .slice(0, Math.max(1, maxNodes))
      .map((a) => a.stack),
  );
  const roots: Agg[] = [];
  for (const a of all) {
    if (!keep.has(a.stack)) continue;
    const p = a.parent === null ? undefined : byPath.get(a.parent);
    if (p && keep.has(p.stack)) p.children.push(a);
    else if (!p) roots.push(a);
  }
  const total = roots.reduce((s, r) => s + r.total, 0);
  const nodes: FlameNode[] = [];
  const place = (list: Agg[], x0: number, room: number) => {
    list.sort((a, b) => (a.mfa < b.mfa ? -1 : a.mfa > b.mfa ? 1 : 0));
    const sum = list.reduce((s, a) => s + a.total, 0);
    const k = sum > room && sum > 0 ? room / sum : 1; // children measured past their parent (clock skew): squeeze
    let x = x0;
    for (const a of list) {
      const w = a.total * k;
      nodes.push({
        stack: a.stack,
        mfa: a.mfa,
        module: a.mfa.slice(0, a.mfa.lastIndexOf(".", a.mfa.lastIndexOf("/"))) || a.mfa,
        depth: a.depth,
        calls: a.calls,
        total_us: a.total,
        self_us: a.self,
        x0: total > 0 ? (100 * x) / total : 0,
        x1: total > 0 ? (100 * (x + w)) / total : 0,
      });
      place(a.children, x, w);
      x += w;
    }
  };
  place(roots, 0, total);
  return { nodes, paths: all.length, total_us: total };
}

/**
 * Where the time goes, by call path: an icicle (a flame graph, roots on top) whose widths are shares of all
 * traced time, with total and self time in the tooltip. Takes a calls table.
 * @example flameChart(orders)
 */
export function flameChart(calls: ColumnTable, options: FlameOptions = {}): ChartSpec {
  const maxNodes = Math.max(1, Math.min(options.maxNodes ?? 2000, Math.floor(MAX_VALUES * 0.8)));
  const { nodes, paths, total_us } = flameNodes(calls, maxNodes);
  const maxDepth = nodes.reduce((m, a) => Math.max(m, a.depth), 0);
  const data = nodes.map((a) => {
    const px = ((a.x1 - a.x0) / 100) * WIDTH_PX;
    return {
      stack: clip(a.stack, 400),
      mfa: a.mfa,
      module: a.module,
      depth: a.depth,
      depth2: a.depth + 1,
      x0: r3(a.x0),
      x1: r3(a.x1),
      share: r3(a.x1 - a.x0),
      calls: a.calls,
      total: formatUs(a.total_us),
      self: formatUs(a.self_us),
      // a label only where it fits (≈ 6.5 px per character)
      label: px >= 40 ? clip(a.mfa, Math.floor((px - 6) / 6.5)) : "",
    };
  });
  const x = { field: "x0", type: "quantitative", title: "share of traced time (%)", scale: { domain: [0, 100], nice: false } };
  const y = { field: "depth", type: "quantitative", title: "depth (calls)", scale: { domain: [0, maxDepth + 1], reverse: true, nice: false }, axis: { tickMinStep: 1 } };
  return {
    ...baseSpec("Flame graph (icicle): time by call path", [
      `${formatUs(total_us)} of traced time in ${calls.numRows().toLocaleString("en")} calls; width = total time, tooltip gives self time`,
      keptNote(nodes.length, paths, "call paths", "the {n} largest"),
    ]),
    width: WIDTH_PX,
    height: Math.max(110, 22 * (maxDepth + 1)),
    data: { values: data },
    layer: [
      {
        name: "frames",
        mark: { type: "rect", stroke: "white", strokeWidth: 0.5, tooltip: true },
        encoding: {
          x,
          x2: { field: "x1" },
          y,
          y2: { field: "depth2" },
          color: { field: "module", type: "nominal", title: "module" },
          tooltip: [
            { field: "mfa", title: "function" },
            { field: "stack", title: "path" },
            { field: "total", title: "total time" },
            { field: "self", title: "self time" },
            { field: "share", title: "share (%)" },
            { field: "calls", title: "calls" },
          ],
        },
      },
      {
        name: "frame_labels",
        transform: [{ filter: "datum.label != ''" }, { calculate: "datum.depth + 0.5", as: "mid" }],
        mark: { type: "text", align: "left", baseline: "middle", dx: 3, fontSize: 11, color: "black" },
        encoding: { x, y: { ...y, field: "mid" }, text: { field: "label" } },
      },
    ],
  };
}

/**
 * A supervision tree as a tidy tree: laid out here (leaves one per row in order, each parent centred on
 * its children, depth across), drawn with rule (edges), point (supervisors as squares, workers as circles)
 * and text marks. Restart counts, counted from a procs table's exit events per child (or given directly),
 * appear as "↻ N" above the children that restarted.
 */
import type { ColumnTable } from "../analysis/aq";
import { hasColumn, requireColumns, texts } from "../analysis/columns";
import { ALERT, baseSpec, type ChartSpec } from "./theme";
import { clip, keptNote, MAX_VALUES } from "./data";

export interface TreeChartOptions {
  /**
   * Restarts per child: a procs table (its `exit` events are counted against each child's pid, and its
   * registered name, which survives restarts), or counts keyed by child id, name or pid.
   */
  restarts?: ColumnTable | Record<string, number> | Map<string, number>;
}

export interface TreeNode {
  row: number;
  parent: number | null;
  depth: number;
  /** Leaf order position (leaves 0, 1, 2…; parents centred on their children). */
  y: number;
  label: string;
  type: string;
  pid: string;
  restarts: number;
}

/** Tidy-tree coordinates for a `tree` table (exported for tests and other drawings). */
export function treeLayout(tree: ColumnTable, restarts?: TreeChartOptions["restarts"]): TreeNode[] {
  requireColumns(tree, ["child_id", "pid", "type"], "treeChart");
  const n = tree.numRows();
  const childId = texts(tree, "child_id");
  const pid = texts(tree, "pid");
  const type = texts(tree, "type");
  const name = hasColumn(tree, "name") ? texts(tree, "name") : null;
  const supPid = hasColumn(tree, "supervisor_pid") ? texts(tree, "supervisor_pid") : null;
  const sup = hasColumn(tree, "supervisor") ? texts(tree, "supervisor") : null;
  const strategy = hasColumn(tree, "strategy") ? texts(tree, "strategy") : null;

  // A row's parent: the supervisor row whose pid (or name) is this row's supervisor.
  const byPid = new Map<string, number>();
  const byName = new Map<string, number>();
  const parent = new Array<number | null>(n).fill(null);
  for (let i = 0; i < n; i++) {
    const key = supPid?.[i] ?? null;
    const p = (key != null ? byPid.get(key) : undefined) ?? (sup?.[i] != null ? (byPid.get(sup[i]!) ?? byName.get(sup[i]!)) : undefined);
    parent[i] = p ?? null;
    if (type[i] === "supervisor") {
      if (pid[i] && !byPid.has(pid[i]!)) byPid.set(pid[i]!, i);
      const nm = name?.[i] ?? childId[i];
      if (nm && !byName.has(nm)) byName.set(nm, i);
    }
  }
  const children = Array.from({ length: n }, () => [] as number[]);
  const roots: number[] = [];
  for (let i = 0; i < n; i++) (parent[i] === null ? roots : children[parent[i]!]).push(i);

  const counts = restartCounts(restarts);
  const depth = new Array<number>(n).fill(0);
  const y = new Array<number>(n).fill(0);
  let leaf = 0;
  const visit = (i: number, d: number) => {
    depth[i] = d;
    if (!children[i].length) y[i] = leaf++;
    else {
      for (const c of children[i]) visit(c, d + 1);
      y[i] = (y[children[i][0]] + y[children[i][children[i].length - 1]]) / 2;
    }
  };
  for (const r of roots) visit(r, 0);

  return Array.from({ length: n }, (_, i) => {
    const nm = name?.[i] ?? null;
    const base = nm ?? childId[i] ?? pid[i] ?? "?";
    return {
      row: i,
      parent: parent[i],
      depth: depth[i],
      y: y[i],
      label: type[i] === "supervisor" && strategy?.[i] ? `${base} (${strategy[i]})` : base,
      type: type[i] ?? "worker",
      pid: pid[i] ?? "",
      restarts: counts([childId[i], nm, pid[i]]),
    };
  });
}

/** Looks up a child's restart count by its id, name or pid. */
function restartCounts(restarts: TreeChartOptions["restarts"]): (keys: (string | null)[]) => number {
  if (!restarts) return () => 0;
  if (restarts instanceof Map || !("numRows" in restarts && typeof restarts.numRows === "function")) {
    const m = restarts instanceof Map ? restarts : new Map(Object.entries(restarts as Record<string, number>));
    return (keys) => {
      for (const k of keys) if (k != null && m.has(k)) return m.get(k) ?? 0;
      return 0;
    };
  }
  const procs = restarts as ColumnTable;
  requireColumns(procs, ["event", "pid"], "treeChart restarts (a procs table)");
  const event = texts(procs, "event");
  const pid = texts(procs, "pid");
  const name = hasColumn(procs, "name") ? texts(procs, "name") : null;
  const byPid = new Map<string, number>();
  const byName = new Map<string, number>();
  for (let i = 0; i < event.length; i++) {
    if (event[i] !== "exit") continue;
    if (pid[i]) byPid.set(pid[i]!, (byPid.get(pid[i]!) ?? 0) + 1);
    if (name?.[i]) byName.set(name[i]!, (byName.get(name[i]!) ?? 0) + 1);
  }
  // keys: [child id, name, pid]; a named child counts the exits under its name (all its incarnations),
  // an unnamed one the exits of its current pid.
  return ([, nm, p]) => (nm != null && byName.has(nm) ? byName.get(nm)! : p != null ? (byPid.get(p) ?? 0) : 0);
}

/**
 * A supervision tree drawn as a tree (supervisors as squares, workers as circles), with restart counts
 * (from a procs table's exits, or given) above the children that restarted. Takes a `%tree` table.
 * @example treeChart(tree, { restarts: procs })
 */
export function treeChart(tree: ColumnTable, options: TreeChartOptions = {}): ChartSpec {
  const all = treeLayout(tree, options.restarts);
  const max = Math.floor(MAX_VALUES / 3);
  const nodes = all.slice(0, max);
  const kept = new Set(nodes.map((d) => d.row));
  const at = new Map(nodes.map((d) => [d.row, d]));
  const points = nodes.map((d) => ({ x: d.depth, y: d.y, label: clip(d.label, 48), type: d.type, pid: d.pid, restarts: d.restarts }));
  const edges = nodes
    .filter((d) => d.parent !== null && kept.has(d.parent))
    .map((d) => {
      const p = at.get(d.parent!)!;
      return { x: p.depth, y: p.y, x2: d.depth, y2: d.y };
    });
  const restarted = points.filter((p) => p.restarts > 0).map((p) => ({ ...p, text: `↻ ${p.restarts}` }));
  const depthMax = nodes.reduce((m, d) => Math.max(m, d.depth), 0);
  const leaves = nodes.reduce((m, d) => Math.max(m, d.y), 0) + 1;
  const x = { field: "x", type: "quantitative", title: "supervision depth (levels below the root)", scale: { domain: [-0.2, depthMax + 0.9], nice: false }, axis: { values: Array.from({ length: depthMax + 1 }, (_, d) => d), format: "d", grid: false } };
  const y = { field: "y", type: "quantitative", title: null, scale: { domain: [-0.5, leaves - 0.5], reverse: true, nice: false, zero: false }, axis: null };
  const supervisors = nodes.filter((d) => d.type === "supervisor").length;
  const totalRestarts = nodes.reduce((s, d) => s + d.restarts, 0);
  return {
    ...baseSpec("Supervision tree", [
      `${supervisors} supervisor${supervisors === 1 ? "" : "s"}, ${nodes.length - supervisors} worker${nodes.length - supervisors === 1 ? "" : "s"}${options.restarts ? `, ${totalRestarts} restart${totalRestarts === 1 ? "" : "s"} seen` : ""}`,
      keptNote(nodes.length, all.length, "children", "the first {n}"),
    ]),
    width: 200 * (depthMax + 1) + 120,
    height: Math.max(60, 26 * leaves),
    layer: [
      { name: "edges", data: { values: edges }, mark: { type: "rule", opacity: 0.7 }, encoding: { x, y, x2: { field: "x2" }, y2: { field: "y2" } } },
      {
        name: "nodes",
        data: { values: points },
        mark: { type: "point", filled: true, size: 80, opacity: 1, tooltip: true },
        encoding: {
          x,
          y,
          shape: { field: "type", type: "nominal", scale: { domain: ["supervisor", "worker"], range: ["square", "circle"] }, title: "type" },
          color: { field: "type", type: "nominal", scale: { domain: ["supervisor", "worker"], range: ["#0072B2", "#009E73"] }, title: "type" },
          tooltip: [
            { field: "label", title: "child" },
            { field: "pid", title: "pid" },
            { field: "type", title: "type" },
            { field: "restarts", title: "restarts" },
          ],
        },
      },
      // workers labelled to the right, supervisors above (their edges leave to the right)
      {
        name: "names",
        data: { values: points },
        transform: [{ filter: "datum.type !== 'supervisor'" }],
        mark: { type: "text", align: "left", baseline: "middle", dx: 9, fontSize: 11 },
        encoding: { x, y, text: { field: "label" } },
      },
      {
        name: "supervisor_names",
        data: { values: points },
        transform: [{ filter: "datum.type === 'supervisor'" }],
        mark: { type: "text", align: "left", baseline: "bottom", dx: -4, dy: -8, fontSize: 11 },
        encoding: { x, y, text: { field: "label" } },
      },
      {
        name: "restarts",
        data: { values: restarted },
        mark: { type: "text", align: "center", baseline: "bottom", dy: -7, fontSize: 11, fontWeight: "bold", color: ALERT },
        encoding: { x, y, text: { field: "text" } },
      },
    ],
  };
}

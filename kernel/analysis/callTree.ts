/**
 * Call nesting rebuilt from spans: on the same process (node and pid), a call is the child of the innermost
 * call whose span [start_us, start_us + duration_us] contains its own. Gives each call its parent, depth,
 * self time (duration minus the time of its direct children) and its stack in folded form (root;…;mfa),
 * the input of flame graphs and of "where did the time go".
 *
 * Stacks are interned: each distinct call path is one string, and the `stack` column (like `mfa`, `pid`
 * and `node`) is dictionary-encoded, so a million calls with deep nesting cost a few distinct strings.
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, hasColumn, mfaLabel, numbers, requireColumns } from "./columns";
import { DictColumn } from "../tables/columns";

/**
 * Columns: [node,] id, parent_id, pid, mfa, depth, start_us, duration_us, self_us, stack.
 * `id` is the call's row position in `calls` (in its current row order) and `parent_id` the id of its
 * parent call, null for outermost calls. Rows come per process, in start order (parents before children).
 * Calls that start together are nested longest first; a call sticking out of an enclosing span is not its
 * child.
 */
export function callTree(calls: ColumnTable): ColumnTable {
  requireColumns(calls, ["pid", "module", "function", "arity", "start_us", "duration_us"], "callTree");
  const n = calls.numRows();
  const withNode = hasColumn(calls, "node");
  const procs = groupCodes(calls, withNode ? ["node", "pid"] : ["pid"]);
  const fns = groupCodes(calls, ["module", "function", "arity"]);
  const labels = fns.keys[0].map((m, g) => mfaLabel(m, fns.keys[1][g], fns.keys[2][g]));
  const start = numbers(calls, "start_us");
  const dur = Float64Array.from(numbers(calls, "duration_us"));
  for (let i = 0; i < n; i++) if (dur[i] !== dur[i]) dur[i] = 0;
  const givenDepth = hasColumn(calls, "depth") ? numbers(calls, "depth") : null;

  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const pc = procs.codes;
  order.sort(
    (a, b) =>
      pc[a] - pc[b] || start[a] - start[b] || dur[b] - dur[a] || (givenDepth ? givenDepth[a] - givenDepth[b] || 0 : 0) || a - b,
  );

  const parent = new Int32Array(n).fill(-1);
  const depth = new Int32Array(n);
  const childTime = new Float64Array(n);
  // Call paths, interned: path id per row; a path is (parent path, function).
  const path = new Int32Array(n);
  const pathIds = new Map<number, number>();
  const pathText: string[] = [];
  const open: number[] = [];
  let proc = -1;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (pc[i] !== proc) {
      proc = pc[i];
      open.length = 0;
    }
    const end = start[i] + dur[i];
    while (open.length && start[open[open.length - 1]] + dur[open[open.length - 1]] < end) open.pop();
    const p = open.length ? open[open.length - 1] : -1;
    parent[i] = p;
    depth[i] = open.length;
    if (p >= 0) childTime[p] += dur[i];
    const fn = fns.codes[i];
    const key = (p >= 0 ? path[p] + 1 : 0) * fns.count + fn;
    let id = pathIds.get(key);
    if (id === undefined) {
      pathIds.set(key, (id = pathText.length));
      pathText.push(p >= 0 ? `${pathText[path[p]]};${labels[fn]}` : labels[fn]);
    }
    path[i] = id;
    open.push(i);
  }

  // Output columns in tree order, filled in one pass (typed arrays; dictionary codes for the text columns).
  const id = new Int32Array(n);
  const parentId = new Array<number | null>(n);
  const procCode = new Uint32Array(n);
  const fnCode = new Uint32Array(n);
  const pathCode = new Uint32Array(n);
  const depthOut = new Int32Array(n);
  const startOut = new Float64Array(n);
  const durOut = new Float64Array(n);
  const selfOut = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = order[k];
    id[k] = i;
    parentId[k] = parent[i] >= 0 ? parent[i] : null;
    procCode[k] = procs.codes[i];
    fnCode[k] = fns.codes[i];
    pathCode[k] = path[i];
    depthOut[k] = depth[i];
    startOut[k] = start[i];
    durOut[k] = dur[i];
    const self = dur[i] - childTime[i];
    selfOut[k] = self > 0 ? self : 0;
  }
  const cols: Record<string, unknown> = {};
  if (withNode) cols.node = new DictColumn(procs.keys[0], procCode);
  cols.id = id;
  cols.parent_id = parentId;
  cols.pid = new DictColumn(procs.keys[withNode ? 1 : 0], procCode);
  cols.mfa = new DictColumn(labels, fnCode);
  cols.depth = depthOut;
  cols.start_us = startOut;
  cols.duration_us = durOut;
  cols.self_us = selfOut;
  cols.stack = new DictColumn(pathText, pathCode);
  return aq.table(cols as never);
}

/**
 * Call nesting rebuilt from spans: on the same process (node and pid), a call is the child of the innermost
 * call whose span [start_us, start_us + duration_us] contains its own. Gives each call its parent, depth,
 * self time (duration minus the time of its direct children) and its stack in folded form (root;…;mfa),
 * the input of flame graphs and of "where did the time go".
 */
import { aq, type ColumnTable } from "./aq";
import { groupCodes, hasColumn, mfaColumn, numbers, requireColumns, values } from "./columns";

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
  const start = numbers(calls, "start_us");
  const dur = Float64Array.from(numbers(calls, "duration_us"));
  for (let i = 0; i < n; i++) if (dur[i] !== dur[i]) dur[i] = 0;
  const givenDepth = hasColumn(calls, "depth") ? numbers(calls, "depth") : null;
  const mfa = mfaColumn(calls);

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
  const stack = new Array<string>(n);
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
    stack[i] = p >= 0 ? `${stack[p]};${mfa[i]}` : mfa[i];
    open.push(i);
  }

  const ids = Array.from(order);
  const cols: Record<string, unknown[]> = {};
  if (withNode) {
    const node = values(calls, "node");
    cols.node = ids.map((i) => node[i]);
  }
  const pid = values(calls, "pid");
  cols.id = ids;
  cols.parent_id = ids.map((i) => (parent[i] >= 0 ? parent[i] : null));
  cols.pid = ids.map((i) => pid[i]);
  cols.mfa = ids.map((i) => mfa[i]);
  cols.depth = ids.map((i) => depth[i]);
  cols.start_us = ids.map((i) => start[i]);
  cols.duration_us = ids.map((i) => dur[i]);
  cols.self_us = ids.map((i) => Math.max(0, dur[i] - childTime[i]));
  cols.stack = ids.map((i) => stack[i]);
  return aq.table(cols);
}

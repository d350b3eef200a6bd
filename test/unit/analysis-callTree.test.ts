import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { callTree } from "../../kernel/analysis/callTree";
import type { ColumnTable } from "../../kernel/analysis/aq";

const base = { node: "a@h", pid: "<0.1.0>", module: "M", arity: 0, depth: 0, outcome: "return" };
const calls = (rows: Record<string, unknown>[]) => aq.from(rows.map((r) => ({ ...base, ...r }))) as unknown as ColumnTable;

describe("callTree", () => {
  // rows deliberately out of order; ids are these row positions
  const t = calls([
    /* 0 */ { function: "c", start_us: 15, duration_us: 5 },
    /* 1 */ { function: "a", start_us: 0, duration_us: 100 },
    /* 2 */ { function: "b", start_us: 10, duration_us: 30 },
    /* 3 */ { function: "d", start_us: 50, duration_us: 40 },
    /* 4 */ { function: "e", start_us: 200, duration_us: 10 },
    /* 5 */ { pid: "<0.2.0>", function: "g", start_us: 5, duration_us: 45, depth: 1 },
    /* 6 */ { pid: "<0.2.0>", function: "f", start_us: 5, duration_us: 45, depth: 0 },
    /* 7 */ { pid: "<0.2.0>", function: "h", start_us: 40, duration_us: 30 }, // sticks out of f: not its child
    /* 8 */ { pid: "<0.1.0>", node: "b@h", function: "x", start_us: 12, duration_us: 1 }, // same pid, other node
  ]);
  const tree = callTree(t);

  it("finds each call's parent by span containment on the same process", () => {
    expect(tree.columnNames()).toEqual(["node", "id", "parent_id", "pid", "mfa", "depth", "start_us", "duration_us", "self_us", "stack"]);
    expect(tree.objects().map((r) => [r.id, r.parent_id, r.depth])).toEqual([
      [1, null, 0],
      [2, 1, 1],
      [0, 2, 2],
      [3, 1, 1],
      [4, null, 0],
      [6, null, 0],
      [5, 6, 1],
      [7, null, 0],
      [8, null, 0],
    ]);
  });

  it("gives self time and folded stacks", () => {
    const byId = new Map(tree.objects().map((r) => [r.id, r]));
    expect(byId.get(1)).toMatchObject({ mfa: "M.a/0", self_us: 30, stack: "M.a/0" });
    expect(byId.get(2)).toMatchObject({ self_us: 25, stack: "M.a/0;M.b/0" });
    expect(byId.get(0)).toMatchObject({ self_us: 5, stack: "M.a/0;M.b/0;M.c/0" });
    expect(byId.get(3)).toMatchObject({ self_us: 40, stack: "M.a/0;M.d/0" });
    expect(byId.get(6)).toMatchObject({ self_us: 0, stack: "M.f/0" });
    expect(byId.get(5)).toMatchObject({ self_us: 45, stack: "M.f/0;M.g/0" });
    expect(byId.get(8)).toMatchObject({ node: "b@h", stack: "M.x/0" });
  });

  it("works on an empty table", () => {
    const empty = aq.table({ pid: [], module: [], function: [], arity: [], start_us: [], duration_us: [] }) as unknown as ColumnTable;
    expect(callTree(empty).numRows()).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { frequentSequences } from "../../kernel/analysis/sequences";
import type { ColumnTable } from "../../kernel/analysis/aq";

const call = (pid: string, fn: string, start: number) => ({ node: "a@h", pid, module: "M", function: fn, arity: 1, start_us: start, duration_us: 1 });

describe("frequentSequences", () => {
  // <0.1.0>: x y z x y z x (rows shuffled); <0.2.0>: x y z; <0.3.0>: x y
  const rows = [
    ..."xyzxyzx".split("").map((f, i) => call("<0.1.0>", f, i * 10)),
    ..."xyz".split("").map((f, i) => call("<0.2.0>", f, 5 + i * 10)),
    ..."xy".split("").map((f, i) => call("<0.3.0>", f, i)),
  ].reverse();
  const t = aq.from(rows) as unknown as ColumnTable;

  it("counts consecutive n-grams per process in start order", () => {
    expect(frequentSequences(t).objects()).toEqual([
      { sequence: "M.x/1 → M.y/1 → M.z/1", count: 3, pids: 2 },
      { sequence: "M.y/1 → M.z/1 → M.x/1", count: 2, pids: 1 },
    ]);
  });

  it("takes the length and minimum count", () => {
    expect(frequentSequences(t, { length: 2, minCount: 1 }).objects()).toEqual([
      { sequence: "M.x/1 → M.y/1", count: 4, pids: 3 },
      { sequence: "M.y/1 → M.z/1", count: 3, pids: 2 },
      { sequence: "M.z/1 → M.x/1", count: 2, pids: 1 },
    ]);
    expect(frequentSequences(t, { length: 3, minCount: 1 }).numRows()).toBe(3);
    expect(frequentSequences(t, { length: 8 }).numRows()).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { mailboxGrowth } from "../../kernel/analysis/mailboxGrowth";
import type { ColumnTable } from "../../kernel/analysis/aq";

const top = (queues: Record<string, number>, extra: Record<string, unknown> = {}) =>
  aq.from(Object.entries(queues).map(([pid, q]) => ({ node: "a@h", pid, name: pid === "<0.5.0>" ? "slow_worker" : null, message_queue_len: q, memory: 1, ...extra })));

describe("mailboxGrowth", () => {
  const queues = [
    { "<0.5.0>": 1, "<0.6.0>": 3, "<0.7.0>": 9, "<0.8.0>": 0 },
    { "<0.5.0>": 5, "<0.6.0>": 3, "<0.7.0>": 5, "<0.8.0>": 10 },
    { "<0.5.0>": 9, "<0.6.0>": 3, "<0.7.0>": 1, "<0.8.0>": 20 },
  ];

  it("finds the growing queues in concatenated %top tables (k-th row of a pid = k-th sample)", () => {
    const samples = top(queues[0]).concat(top(queues[1]), top(queues[2])) as unknown as ColumnTable;
    const g = mailboxGrowth(samples);
    expect(g.columnNames()).toEqual(["node", "pid", "name", "samples", "first", "last", "max", "slope_per_s"]);
    expect(g.objects()).toEqual([
      { node: "a@h", pid: "<0.8.0>", name: null, samples: 3, first: 0, last: 20, max: 20, slope_per_s: 10 },
      { node: "a@h", pid: "<0.5.0>", name: "slow_worker", samples: 3, first: 1, last: 9, max: 9, slope_per_s: 4 },
    ]);
    expect(mailboxGrowth(samples, { sampleIntervalS: 2 }).array("slope_per_s")).toEqual([5, 2]);
  });

  it("uses time_us when there is one, in any row order", () => {
    const samples = top(queues[2], { time_us: 2_000_000 }).concat(top(queues[0], { time_us: 1_000_000 }), top(queues[1], { time_us: 1_500_000 })) as unknown as ColumnTable;
    const g = mailboxGrowth(samples);
    expect(g.objects().map((r) => [r.pid, r.first, r.last, r.slope_per_s])).toEqual([
      ["<0.8.0>", 0, 20, 20],
      ["<0.5.0>", 1, 9, 8],
    ]);
  });

  it("uses a sample column and needs minSamples", () => {
    const samples = top(queues[0], { sample: 0 }).concat(top(queues[1], { sample: 1 })) as unknown as ColumnTable;
    expect(mailboxGrowth(samples).numRows()).toBe(0);
    expect(mailboxGrowth(samples, { minSamples: 2 }).array("pid")).toEqual(["<0.8.0>", "<0.5.0>"]);
  });
});

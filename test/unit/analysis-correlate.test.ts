import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { correlateLogs } from "../../kernel/analysis/correlate";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;
const logs = aq.from([
  { node: "a@h", time_us: T + 1000, level: "error", pid: "<0.1.0>", mfa: null, message: "boom" },
  { node: "a@h", time_us: T + 5000, level: "info", pid: "<0.2.0>", mfa: null, message: "hello" },
  { node: "a@h", time_us: T + 6000, level: "info", pid: null, mfa: null, message: "no pid" },
]) as unknown as ColumnTable;

describe("correlateLogs", () => {
  it("pairs each log row with the same process's calls in the window before it", () => {
    const calls = aq.from([
      { node: "a@h", pid: "<0.1.0>", module: "M", function: "early", arity: 0, start_us: T + 100, duration_us: 1 },
      { node: "a@h", pid: "<0.1.0>", module: "M", function: "in2", arity: 0, start_us: T + 950, duration_us: 1 },
      { node: "a@h", pid: "<0.1.0>", module: "M", function: "in1", arity: 0, start_us: T + 900, duration_us: 1 },
      { node: "a@h", pid: "<0.1.0>", module: "M", function: "after", arity: 0, start_us: T + 1001, duration_us: 1 },
      { node: "a@h", pid: "<0.3.0>", module: "M", function: "other", arity: 0, start_us: T + 990, duration_us: 1 },
      { node: "b@h", pid: "<0.1.0>", module: "M", function: "othernode", arity: 0, start_us: T + 990, duration_us: 1 },
      { node: "a@h", pid: "<0.2.0>", module: "M", function: "exact", arity: 0, start_us: T + 5000, duration_us: 1 },
    ]) as unknown as ColumnTable;
    const c = correlateLogs(logs, calls, { windowUs: 500 });
    expect(c.columnNames().slice(0, 7)).toEqual(["log_index", "log_time_us", "log_level", "log_message", "before_us", "event_index", "node"]);
    expect(c.objects().map((r) => [r.log_index, r.function, r.before_us, r.event_index])).toEqual([
      [0, "in1", 100, 2],
      [0, "in2", 50, 1],
      [1, "exact", 0, 6],
    ]);
    expect(correlateLogs(logs, calls).objects().filter((r) => r.log_index === 0).map((r) => r.function)).toEqual(["early", "in1", "in2"]);
  });

  it("matches messages by sender or receiver", () => {
    const msgs = aq.from([
      { node: "a@h", time_us: T + 990, event: "send", from_pid: "<0.1.0>", to_pid: "<0.2.0>", protocol: "cast", message: "{:go}" },
      { node: "a@h", time_us: T + 4990, event: "receive", from_pid: "<0.7.0>", to_pid: "<0.2.0>", protocol: "info", message: ":tick" },
    ]) as unknown as ColumnTable;
    const c = correlateLogs(logs, msgs);
    expect(c.objects().map((r) => [r.log_index, r.protocol, r.before_us])).toEqual([
      [0, "cast", 10],
      [1, "cast", 4010],
      [1, "info", 10],
    ]);
  });
});

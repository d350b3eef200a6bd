import { describe, expect, it } from "vitest";
import * as aq from "arquero";
import { explain } from "../../kernel/analysis/explain";
import { setTableMeta } from "../../kernel/tables/tableMeta";
import type { ColumnTable } from "../../kernel/analysis/aq";

const T = 1_700_000_000_000_000;
const call = (pid: string, module: string, fn: string, start: number, dur: number, extra: Record<string, unknown> = {}) => ({
  node: "a@h", pid, process: null, module, function: fn, arity: 1, depth: 0, start_us: T + start, duration_us: dur,
  outcome: "return", result: null, exception_class: null, exception_reason: null, args: null, ...extra,
});

describe("explain", () => {
  it("tells where the slowest calls spent their time, the outliers and the exceptions", () => {
    const rows = [
      call("<0.1.0>", "Shop", "checkout", 0, 50_000),
      call("<0.1.0>", "Repo", "query", 1_000, 30_000),
      call("<0.1.0>", "Repo", "query", 32_000, 10_000),
      call("<0.1.0>", "Cart", "total", 43_000, 2_000),
      ...Array.from({ length: 20 }, (_, i) => call("<0.2.0>", "Cart", "total", 100_000 + i * 100, 10 + (i % 3))),
      call("<0.3.0>", "Cart", "load", 200_000, 5),
      call("<0.3.0>", "Pay", "charge", 200_010, 40, { outcome: "exception", exception_class: "error", exception_reason: ":timeout" }),
    ];
    const lines = explain(aq.from(rows) as unknown as ColumnTable);
    expect(lines[0]).toBe("26 calls to 5 functions on 3 processes over 200 ms.");
    expect(lines).toContain("Most time went to Shop.checkout/1: 1 call totalling 50 ms (p50 50 ms, p99 50 ms, max 50 ms).");
    expect(lines).toContain(
      "The slowest call was Shop.checkout/1 on <0.1.0> at +0 µs, taking 50 ms: 40 ms (80%) in Repo.query/1 (2 calls), 2 ms (4%) in Cart.total/1, and 8 ms (16%) in its own code.",
    );
    expect(lines).toContain("The next slowest was Repo.query/1 on <0.1.0> at +1 ms, taking 30 ms, all in its own code (no traced calls inside it).");
    expect(lines).toContain("1 call was an outlier for its function (robust z-score above 3.5): Cart.total/1 on <0.1.0> took 2 ms against a median of 11 µs.");
    expect(lines).toContain("1 call raised:");
    expect(lines).toContain("Pay.charge/1 raised error :timeout on <0.3.0> at +200 ms; before it on that process: Cart.load/1.");
  });

  it("summarises messages: protocols and the slowest call/reply", () => {
    const m = (protocol: string, from: string, to: string, latency: number | null = null) => ({
      node: "a@h", time_us: T, event: "send", from_pid: from, from_name: null, to_pid: to, to_name: to === "<0.9.0>" ? "Shop.Server" : null,
      protocol, call_id: null, latency_us: latency, message: "m", size_words: 3,
    });
    const t = aq.from([m("call", "<0.1.0>", "<0.9.0>"), m("reply", "<0.9.0>", "<0.1.0>", 1200), m("call", "<0.2.0>", "<0.9.0>"), m("reply", "<0.9.0>", "<0.2.0>", 300), m("cast", "<0.1.0>", "<0.9.0>")]);
    expect(explain(t as unknown as ColumnTable)).toEqual([
      "5 messages among 3 processes: 2 call, 2 reply, 1 cast.",
      "The slowest call/reply took 1.2 ms: <0.1.0> waiting on <0.9.0>; the median over 2 replies was 750 µs.",
    ]);
  });

  it("summarises logs: levels and the first error", () => {
    const l = (level: string, t: number, message: string) => ({ node: "a@h", time_us: T + t, level, pid: "<0.4.0>", mfa: "Shop.pay/2", file: null, line: null, message, metadata: null });
    const t = aq.from([l("info", 0, "start"), l("error", 2_000_000, "second"), l("error", 1_000_000, "payment failed"), l("warning", 5, "hmm")]);
    expect(explain(t as unknown as ColumnTable)).toEqual([
      "4 log events: 2 error, 1 warning, 1 info.",
      `The first error was at ${new Date((T + 1_000_000) / 1000).toISOString()} on <0.4.0> in Shop.pay/2: payment failed`,
    ]);
  });

  it("describes any other table by its shape, and uses the table's kind when known", () => {
    const t = aq.table({ a: [1, 2], b: ["x", "y"] }) as unknown as ColumnTable;
    expect(explain(t)).toEqual(["2 rows and 2 columns: a, b."]);
    setTableMeta(t, { kind: "ets", schemaVersion: 1, dropped: 0 });
    expect(explain(t)).toEqual(["An ets table of 2 rows and 2 columns: a, b."]);
  });
});

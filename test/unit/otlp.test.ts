/**
 * %export otel's spans: one per call row, valid ids, parents as callTree nests the calls, exceptions as span
 * events, ns times; and every line is an OTLP ExportTraceServiceRequest that the OpenTelemetry packages' own
 * JSON serializer writes again byte for byte once read back into their span model.
 */
import { describe, expect, it } from "vitest";
import { aq } from "../../kernel/analysis/aq";
import { callTree } from "../../kernel/analysis/callTree";
import { otlpTraces } from "../../kernel/report/otlp";
import { setTableMeta } from "../../kernel/tables/tableMeta";
import type { IExportTraceServiceRequest, ISpan } from "@opentelemetry/otlp-transformer/build/src/trace/internal-types";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";

const T0 = 1_764_650_000_000_000.25; // µs since the epoch, with a fraction

function calls() {
  // <0.1.0>: a(0..100) ⊃ b(10..40) ⊃ c(15..20), then a second root d(200..210) that raised; <0.2.0>: e(5..50).
  const t = aq.table({
    node: ["shop@h", "shop@h", "shop@h", "shop@h", "shop@h"],
    pid: ["<0.1.0>", "<0.1.0>", "<0.1.0>", "<0.2.0>", "<0.1.0>"],
    process: ["Shop.Orders", "Shop.Orders", "Shop.Orders", null, "Shop.Orders"],
    module: ["Shop.Orders", "Shop.Pricing", "Shop.Inventory", "Shop.Pricing", "Shop.Orders"],
    function: ["handle_call", "price", "reserve", "price", "place"],
    arity: [3, 2, 2, 2, 2],
    start_us: [T0, T0 + 10, T0 + 15, T0 + 5, T0 + 200],
    duration_us: [100, 30, 5, 45, 10],
    outcome: ["return", "return", "return", "return", "exception"],
    result: ["{:reply, :ok, %{}}", "42", ":ok", "7", null],
    exception_class: [null, null, null, null, "error"],
    exception_reason: [null, null, null, null, "%RuntimeError{message: \"boom\"}"],
    args: [null, "[\"apple\", 3]", null, null, null],
  } as never);
  setTableMeta(t, { kind: "calls", schemaVersion: 1, probe: "orders", dropped: 0 });
  return t as any;
}

const ns = (us: number) => BigInt(Math.floor(us / 1e6)) * 1_000_000_000n + BigInt(Math.round((us - Math.floor(us / 1e6) * 1e6) * 1000));

const spansOf = (lines: string[]): ISpan[] =>
  lines.flatMap((l) => (JSON.parse(l) as IExportTraceServiceRequest).resourceSpans!.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans ?? [])));

describe("otlpTraces", () => {
  it("gives one span per call, with valid ids and the parents callTree finds", () => {
    const table = calls();
    const { lines, spans: count, skipped } = otlpTraces([{ name: "orders", table }]);
    expect(skipped).toEqual([]);
    const spans = spansOf(lines);
    expect(count).toBe(5);
    expect(spans).toHaveLength(5);
    for (const s of spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.traceId).not.toMatch(/^0+$/);
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(s.spanId).not.toMatch(/^0+$/);
    }
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(5);
    // Parents: as callTree nests the rows (a row's span found by its process and start time).
    const tree = callTree(table).objects() as { id: number; parent_id: number | null; pid: string; start_us: number }[];
    const attr = (sp: ISpan, key: string) => (sp.attributes.find((a) => a.key === key)?.value as { stringValue?: string }).stringValue;
    const spanOf = (id: number) => {
      const r = tree.find((t) => t.id === id)!;
      return spans.find((sp) => attr(sp, "beam.pid") === r.pid && String(sp.startTimeUnixNano) === String(ns(r.start_us)))!;
    };
    for (const r of tree) {
      const sp = spanOf(r.id);
      expect(sp).toBeDefined();
      if (r.parent_id === null) expect(sp.parentSpanId).toBeUndefined();
      else {
        expect(sp.parentSpanId).toBe(spanOf(r.parent_id).spanId);
        expect(sp.traceId).toBe(spanOf(r.parent_id).traceId);
      }
    }
    expect(tree.filter((r) => r.parent_id !== null)).toHaveLength(2);
    const named = (n: string) => spans.find((sp) => sp.name === n)!;
    // Two roots on one process are two traces.
    expect(named("Shop.Orders.place/2").traceId).not.toBe(named("Shop.Orders.handle_call/3").traceId);
  });

  it("writes times in ns, node/pid/mfa attributes, and an exception as a span event with status ERROR", () => {
    const spans = spansOf(otlpTraces([{ name: "orders", table: calls() }]).lines);
    const root = spans.find((s) => s.name === "Shop.Orders.handle_call/3")!;
    expect(String(root.startTimeUnixNano)).toBe(String(ns(T0)));
    expect(BigInt(String(root.endTimeUnixNano)) - BigInt(String(root.startTimeUnixNano))).toBe(100_000n);
    const attrs = Object.fromEntries(root.attributes.map((a) => [a.key, (a.value as { stringValue?: string }).stringValue]));
    expect(attrs).toMatchObject({ "beam.node": "shop@h", "beam.pid": "<0.1.0>", "beam.process": "Shop.Orders", "code.namespace": "Shop.Orders", "code.function": "handle_call", "beam.mfa": "Shop.Orders.handle_call/3" });
    expect(root.status.code).toBe(0);
    const failed = spans.find((s) => s.name === "Shop.Orders.place/2")!;
    expect(failed.status).toMatchObject({ code: 2, message: '%RuntimeError{message: "boom"}' });
    expect(failed.events).toHaveLength(1);
    expect(failed.events[0].name).toBe("exception");
    const ev = Object.fromEntries(failed.events[0].attributes.map((a) => [a.key, (a.value as { stringValue?: string }).stringValue]));
    expect(ev).toEqual({ "exception.type": "error", "exception.message": '%RuntimeError{message: "boom"}' });
    // One resource per node, named as the service.
    const req = JSON.parse(otlpTraces([{ name: "orders", table: calls() }]).lines[0]) as IExportTraceServiceRequest;
    expect(req.resourceSpans!.map((r) => r.resource!.attributes.find((a) => a.key === "service.name")!.value)).toEqual([{ stringValue: "shop@h" }]);
  });

  it("writes lines that the OpenTelemetry JSON serializer reproduces from its own span model", () => {
    const [line] = otlpTraces([{ name: "orders", table: calls() }]).lines;
    const req = JSON.parse(line) as IExportTraceServiceRequest;
    const hr = (ns: string): [number, number] => [Number(BigInt(ns) / 1_000_000_000n), Number(BigInt(ns) % 1_000_000_000n)];
    const value = (v: any) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? v.boolValue);
    const attrs = (list: { key: string; value: unknown }[]) => Object.fromEntries(list.map((a) => [a.key, value(a.value)]));
    const back = req.resourceSpans!.flatMap((rs) => {
      const resource = resourceFromAttributes(attrs(rs.resource!.attributes as never));
      return rs.scopeSpans.flatMap((ss) =>
        (ss.spans ?? []).map((s) => ({
          name: s.name,
          kind: s.kind - 1,
          spanContext: () => ({ traceId: s.traceId, spanId: s.spanId, traceFlags: (s.flags ?? 0) & 0xff }),
          parentSpanContext: s.parentSpanId ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1 } : undefined,
          startTime: hr(String(s.startTimeUnixNano)),
          endTime: hr(String(s.endTimeUnixNano)),
          duration: [0, 0],
          status: s.status,
          attributes: attrs(s.attributes as never),
          links: [],
          events: s.events.map((e) => ({ name: e.name, time: hr(String(e.timeUnixNano)), attributes: attrs(e.attributes as never) })),
          ended: true,
          resource,
          instrumentationScope: { name: ss.scope!.name, version: ss.scope!.version },
          droppedAttributesCount: 0,
          droppedEventsCount: 0,
          droppedLinksCount: 0,
        })),
      );
    });
    expect(Buffer.from(JsonTraceSerializer.serializeRequest(back as never)!).toString("utf8")).toBe(line);
  });

  it("makes message rows spans (a reply spanning its call), and leaves out tables of other kinds", () => {
    const msgs = aq.table({
      node: ["shop@h", "shop@h"],
      time_us: [T0, T0 + 80],
      event: ["receive", "send"],
      from_pid: ["<0.9.0>", "<0.1.0>"],
      from_name: [null, "Shop.Orders"],
      to_pid: ["<0.1.0>", "<0.9.0>"],
      to_name: ["Shop.Orders", null],
      protocol: ["call", "reply"],
      call_id: ["#Ref<0.1.2.3>", "#Ref<0.1.2.3>"],
      latency_us: [null, 80],
      message: ["{:place, \"apple\", 3}", ":ok"],
      size_words: [5, 1],
    } as never);
    setTableMeta(msgs, { kind: "messages", schemaVersion: 1, probe: "inbox", dropped: 0 });
    const top = aq.table({ pid: ["<0.1.0>"] } as never);
    setTableMeta(top, { kind: "top", schemaVersion: 1, dropped: 0 });
    const { lines, skipped } = otlpTraces([{ name: "inbox", table: msgs as any }, { name: "t", table: top as any }]);
    expect(skipped).toEqual(["t (top: only call and message tables become spans)"]);
    const spans = spansOf(lines);
    expect(spans.map((s) => [s.name, s.kind])).toEqual([["receive call", 5], ["send reply", 4]]);
    expect(spans[0].traceId).toBe(spans[1].traceId);
    expect(BigInt(String(spans[1].endTimeUnixNano)) - BigInt(String(spans[1].startTimeUnixNano))).toBe(80_000n);
  });
});

describe("the latency-spike investigation's spans (its calls as its shipped recording holds them)", () => {
  it("has one span per call row, valid unique ids, and the parents callTree finds", async () => {
    const { readdirSync } = await import("node:fs");
    const path = await import("node:path");
    const { loadCapture } = await import("../../kernel/tables/capture");
    const dir = path.join(__dirname, "..", "..", "notebooks", "investigations", "recordings", "latency-spike", "probes");
    const [first, ...rest] = readdirSync(dir).sort().map((f) => loadCapture(path.join(dir, f)).table as any);
    const all = first.concat(...rest);
    expect(all.numRows()).toBe(900);
    const { lines, spans: count } = otlpTraces([{ name: "all", table: all }]);
    const spans = spansOf(lines);
    expect(count).toBe(all.numRows());
    expect(spans).toHaveLength(all.numRows());
    expect(spans.every((s) => /^[0-9a-f]{32}$/.test(String(s.traceId)) && /^[0-9a-f]{16}$/.test(String(s.spanId)) && !/^0+$/.test(String(s.spanId)))).toBe(true);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    // callTree's rows and the spans, in the same order (tree order): each parent id is its parent row's span.
    const tree = callTree(all);
    const parents = tree.array("parent_id") as (number | null)[];
    const ids = tree.array("id") as ArrayLike<number>;
    const spanOfRow = new Map<number, ISpan>();
    for (let k = 0; k < spans.length; k++) spanOfRow.set(ids[k], spans[k]);
    let nested = 0;
    for (let k = 0; k < spans.length; k++) {
      const p = parents[k];
      if (p === null) expect(spans[k].parentSpanId).toBeUndefined();
      else {
        nested++;
        expect(spans[k].parentSpanId).toBe(spanOfRow.get(p)!.spanId);
        expect(spans[k].traceId).toBe(spanOfRow.get(p)!.traceId);
      }
    }
    // Pricing and reserving happen inside each order's handle_call: 600 nested calls under 300 roots.
    expect(nested).toBe(600);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(300);
  });
});

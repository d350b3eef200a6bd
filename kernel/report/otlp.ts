/**
 * Call and message tables as OpenTelemetry spans, in OTLP JSON — the format of the OpenTelemetry Collector's
 * file exporter and `otlpjsonfile` receiver (one `ExportTraceServiceRequest` a line), which Jaeger and Tempo
 * import. The OpenTelemetry packages make the wire format (`@opentelemetry/otlp-transformer`'s JSON
 * serializer, fed the SDK's `ReadableSpan` shape); this file only says what a call or a message is as a span.
 *
 * - A call is a span named `Mod.fun/arity`, from `start_us` to `start_us + duration_us` (in ns), its parent
 *   the call that encloses it on the same process (kernel/analysis/callTree.ts), its trace that of its
 *   outermost call. Attributes: `beam.node`, `beam.pid`, `beam.process`, `code.namespace`, `code.function`,
 *   `beam.mfa`, `beam.args` and `beam.result` (as the table shows them). A call that raised has status ERROR
 *   and an `exception` event (`exception.type` = error/exit/throw, `exception.message` = the reason).
 * - A message row is a span at its time: PRODUCER for a send, CONSUMER for a receive; a reply that was paired
 *   with its call spans from the call to the reply (`latency_us`), and a call and its reply share a trace.
 * - Ids are derived from the table's probe, node and row, so exporting the same table twice (or from a
 *   replay) gives the same file.
 * - Each node is a resource (`service.name` = the node), so a backend shows one service per node.
 */
import { createHash } from "node:crypto";
import type { ColumnTable } from "../analysis/aq";
import { callTree } from "../analysis/callTree";
import { cellReader, hasColumn, numbers, texts } from "../analysis/columns";
import { tableMeta } from "../tables/tableMeta";
import { kernelVersion } from "../kernelInfo";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const otlp = () => require("@opentelemetry/otlp-transformer") as typeof import("@opentelemetry/otlp-transformer");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const resources = () => require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");

type ReadableSpan = import("@opentelemetry/sdk-trace").ReadableSpan;
type HrTime = [number, number];

/** Spans per line: each line is one request a collector takes whole. */
const SPANS_PER_LINE = 2000;

// The API's enums, as numbers (the API package need not load for them).
const SPAN_KIND = { INTERNAL: 0, PRODUCER: 3, CONSUMER: 4 } as const;
const STATUS = { UNSET: 0, ERROR: 2 } as const;
const SAMPLED = 1;

/** µs since the epoch (a float) as [s, ns]. */
function hrTime(us: number): HrTime {
  const s = Math.floor(us / 1e6);
  return [s, Math.round((us - s * 1e6) * 1000)];
}

function hexId(bytes: number, ...parts: unknown[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, bytes * 2);
  return /^0+$/.test(h) ? `${h.slice(0, -1)}1` : h; // an all-zero id is invalid in OTLP
}

export interface OtlpExport {
  lines: string[];
  spans: number;
  /** Tables left out, with why. */
  skipped: string[];
}

interface SpanFields {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentId?: string;
  startUs: number;
  endUs: number;
  attributes: Record<string, string | number>;
  error?: { type: string; message: string };
  node: string;
}

/** The tables' rows as OTLP JSON lines. Tables of other kinds are skipped (and named in `skipped`). */
export function otlpTraces(tables: { name: string; table: ColumnTable }[]): OtlpExport {
  const fields: SpanFields[] = [];
  const skipped: string[] = [];
  for (const { name, table } of tables) {
    const kind = tableMeta(table)?.kind ?? (hasColumn(table, "duration_us") ? "calls" : hasColumn(table, "protocol") ? "messages" : "table");
    if (kind === "calls") fields.push(...callSpans(name, table));
    else if (kind === "messages") fields.push(...messageSpans(name, table));
    else skipped.push(`${name} (${kind}: only call and message tables become spans)`);
  }
  const { resourceFromAttributes } = resources();
  const byNode = new Map<string, ReturnType<typeof resourceFromAttributes>>();
  const scope = { name: "elixirlumin", version: kernelVersion() };
  const spans: ReadableSpan[] = fields.map((f) => {
    let resource = byNode.get(f.node);
    if (!resource) byNode.set(f.node, (resource = resourceFromAttributes({ "service.name": f.node, "beam.node": f.node })));
    const start = hrTime(f.startUs);
    const end = hrTime(f.endUs);
    const ctx = { traceId: f.traceId, spanId: f.spanId, traceFlags: SAMPLED };
    return {
      name: f.name,
      kind: f.kind,
      spanContext: () => ctx,
      parentSpanContext: f.parentId ? { traceId: f.traceId, spanId: f.parentId, traceFlags: SAMPLED } : undefined,
      startTime: start,
      endTime: end,
      duration: hrTime(f.endUs - f.startUs),
      status: f.error ? { code: STATUS.ERROR, message: f.error.message } : { code: STATUS.UNSET },
      attributes: f.attributes,
      links: [],
      events: f.error ? [{ name: "exception", time: end, attributes: { "exception.type": f.error.type, "exception.message": f.error.message } }] : [],
      ended: true,
      resource,
      instrumentationScope: scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    } as unknown as ReadableSpan;
  });
  const { JsonTraceSerializer } = otlp();
  const lines: string[] = [];
  for (let i = 0; i < spans.length; i += SPANS_PER_LINE) {
    lines.push(Buffer.from(JsonTraceSerializer.serializeRequest(spans.slice(i, i + SPANS_PER_LINE))!).toString("utf8"));
  }
  return { lines, spans: spans.length, skipped };
}

function callSpans(name: string, calls: ColumnTable): SpanFields[] {
  const tree = callTree(calls);
  const n = tree.numRows();
  const ids = numbers(tree, "id");
  const parents = tree.array("parent_id") as ArrayLike<number | null>;
  const mfa = texts(tree, "mfa");
  const start = numbers(tree, "start_us");
  const dur = numbers(tree, "duration_us");
  const node = hasColumn(calls, "node") ? cellReader(calls, "node", true) : () => "nonode@nohost";
  const pid = cellReader(calls, "pid", true);
  const proc = hasColumn(calls, "process") ? cellReader(calls, "process", true) : () => null;
  const module = cellReader(calls, "module", true);
  const fun = cellReader(calls, "function", true);
  const args = hasColumn(calls, "args") ? cellReader(calls, "args", true) : () => null;
  const result = hasColumn(calls, "result") ? cellReader(calls, "result", true) : () => null;
  const excClass = hasColumn(calls, "exception_class") ? cellReader(calls, "exception_class", true) : () => null;
  const excReason = hasColumn(calls, "exception_reason") ? cellReader(calls, "exception_reason", true) : () => null;
  const probe = tableMeta(calls)?.probe ?? name;

  // Ids by the call's row (callTree's `id`); the trace of a call is its outermost ancestor's.
  const spanIdOf = (row: number) => hexId(8, "span", probe, node(row), row);
  const parentOf = new Map<number, number | null>();
  for (let k = 0; k < n; k++) parentOf.set(ids[k], parents[k]);
  const rootOf = (row: number): number => {
    let r = row;
    for (let p = parentOf.get(r); p !== null && p !== undefined; p = parentOf.get(r)) r = p;
    return r;
  };
  const out: SpanFields[] = [];
  for (let k = 0; k < n; k++) {
    const row = ids[k];
    const d = dur[k] === dur[k] ? dur[k] : 0;
    const attributes: Record<string, string | number> = {
      "beam.node": node(row) ?? "",
      "beam.pid": pid(row) ?? "",
      "code.namespace": module(row) ?? "",
      "code.function": fun(row) ?? "",
      "beam.mfa": mfa[k] ?? "",
    };
    const p = proc(row);
    if (p) attributes["beam.process"] = p;
    const a = args(row);
    if (a !== null) attributes["beam.args"] = a;
    const r = result(row);
    if (r !== null) attributes["beam.result"] = r;
    const cls = excClass(row);
    out.push({
      name: mfa[k] ?? "call",
      kind: SPAN_KIND.INTERNAL,
      traceId: hexId(16, "trace", probe, node(row), rootOf(row)),
      spanId: spanIdOf(row),
      parentId: parents[k] === null || parents[k] === undefined ? undefined : spanIdOf(parents[k] as number),
      startUs: start[k],
      endUs: start[k] + d,
      attributes,
      error: cls ? { type: cls, message: excReason(row) ?? "" } : undefined,
      node: node(row) ?? "",
    });
  }
  return out;
}

function messageSpans(name: string, msgs: ColumnTable): SpanFields[] {
  const n = msgs.numRows();
  const probe = tableMeta(msgs)?.probe ?? name;
  const read = (c: string) => (hasColumn(msgs, c) ? cellReader(msgs, c, true) : () => null);
  const [node, event, from, fromName, to, toName, protocol, callId, message] = ["node", "event", "from_pid", "from_name", "to_pid", "to_name", "protocol", "call_id", "message"].map(read);
  const time = numbers(msgs, "time_us");
  const latency = hasColumn(msgs, "latency_us") ? numbers(msgs, "latency_us") : new Float64Array(n).fill(NaN);
  const out: SpanFields[] = [];
  for (let i = 0; i < n; i++) {
    const ev = event(i) ?? "message";
    const proto = protocol(i) ?? "";
    const call = callId(i);
    const attributes: Record<string, string | number> = { "beam.node": node(i) ?? "", "messaging.system": "beam", "beam.event": ev, "beam.protocol": proto };
    for (const [key, v] of [["beam.from_pid", from(i)], ["beam.from_name", fromName(i)], ["beam.to_pid", to(i)], ["beam.to_name", toName(i)], ["beam.call_id", call], ["beam.message", message(i)]] as const) {
      if (v !== null) attributes[key] = v;
    }
    const waited = latency[i] === latency[i] ? latency[i] : 0;
    out.push({
      name: `${ev} ${proto}`.trim(),
      kind: ev === "send" ? SPAN_KIND.PRODUCER : SPAN_KIND.CONSUMER,
      traceId: hexId(16, "trace", probe, node(i), call ?? `row${i}`),
      spanId: hexId(8, "span", probe, node(i), i),
      startUs: time[i] - waited,
      endUs: time[i],
      attributes,
      node: node(i) ?? "",
    });
  }
  return out;
}

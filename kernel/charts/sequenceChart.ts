/**
 * Who sent what to whom, in time order: a sequence diagram with a lifeline per process and an arrow per
 * message from sender to receiver (a send and the matching receive, when both were seen, make one slanted
 * arrow), labelled with the OTP protocol (call, reply, cast, info, EXIT, DOWN); replies carry the call's
 * latency. Longer tables: the first `maxMessages` messages (a diagram must stay contiguous), said so.
 */
import type { ColumnTable } from "../analysis/aq";
import { cellReader, hasColumn, numbers, requireColumns } from "../analysis/columns";
import { formatUs } from "../analysis/stats";
import { baseSpec, CATEGORY, type ChartSpec } from "./theme";
import { clip, keptNote, r3, topPositions } from "./data";

export interface SequenceOptions {
  /** Most messages drawn, the earliest (300). */
  maxMessages?: number;
}

export const PROTOCOLS = ["call", "reply", "cast", "info", "EXIT", "DOWN", "system"];

interface Arrow {
  from: number;
  to: number;
  /** Rows are messages in order (time gaps between bursts would leave the diagram mostly empty). */
  seq: number;
  seq2: number;
  t_ms: number;
  t2_ms: number;
  protocol: string;
  label: string;
  message: string;
  dir: "right" | "left";
  self: boolean;
}

/**
 * Who sent what to whom, in time order: a sequence diagram with a lifeline per process and an arrow per
 * message, labelled with its OTP protocol (call, reply, cast, info, EXIT, DOWN). Takes a messages table.
 * @example sequenceChart(msgs)   // msgs = %events NAME of a --messages probe
 */
export function sequenceChart(messages: ColumnTable, options: SequenceOptions = {}): ChartSpec {
  requireColumns(messages, ["time_us", "from_pid", "to_pid", "protocol"], "sequenceChart");
  const max = Math.max(1, Math.min(options.maxMessages ?? 300, 1500));
  const n = messages.numRows();
  const time = numbers(messages, "time_us");
  // Only the earliest rows can make the first `max` arrows (a receive follows its send closely): read
  // and pair at most 4 × max rows, so a huge table costs no more than a small one.
  const window = Math.min(n, 4 * max);
  const order = topPositions(time.map((t) => -t), window).sort((a, b) => time[a] - time[b] || a - b);
  const read = (name: string) => (hasColumn(messages, name) ? cellReader(messages, name, true) : null);
  const column = (name: string) => {
    const r = read(name);
    const out = new Map<number, string | null>();
    if (r) for (const i of order) out.set(i, r(i));
    return r ? (i: number) => out.get(i) ?? null : null;
  };
  const event = column("event");
  const from = column("from_pid")!;
  const to = column("to_pid")!;
  const fromName = column("from_name");
  const toName = column("to_name");
  const protocol = column("protocol")!;
  const callId = column("call_id");
  const latency = hasColumn(messages, "latency_us") ? numbers(messages, "latency_us") : null;
  const text = column("message");

  // Pair each receive with the earliest unpaired send of the same message (same ends, protocol, content).
  const key = (i: number) => [from(i), to(i), protocol(i), callId?.(i) ?? "", text?.(i) ?? ""].join("\u0000");
  const pending = new Map<string, number[]>();
  const receiveOf = new Map<number, number>();
  const paired = new Set<number>();
  for (const i of order) {
    if (event?.(i) === "receive") {
      const s = pending.get(key(i))?.shift();
      if (s !== undefined) {
        receiveOf.set(s, i);
        paired.add(i);
      }
    } else {
      const k = key(i);
      const q = pending.get(k);
      if (q) q.push(i);
      else pending.set(k, [i]);
    }
  }
  const all = order.filter((i) => !paired.has(i));
  const shown = all.slice(0, max);

  // Call send times by call id, for latencies the table does not carry.
  const callSent = new Map<string, number>();
  if (callId) for (const i of order) if (protocol(i) === "call" && callId(i) && !callSent.has(callId(i)!)) callSent.set(callId(i)!, time[i]);

  const lanes: string[] = [];
  const laneOf = new Map<string, number>();
  const label = new Map<string, string>();
  const lane = (pid: string | null, name: string | null) => {
    const p = pid ?? "?";
    if (name && !label.has(p)) label.set(p, name);
    let l = laneOf.get(p);
    if (l === undefined) {
      laneOf.set(p, (l = lanes.length));
      lanes.push(p);
    }
    return l;
  };
  const t0 = shown.length ? time[shown[0]] : 0;
  const arrows: Arrow[] = shown.map((i, at) => {
    const a = lane(from(i), fromName?.(i) ?? null);
    const b = lane(to(i), toName?.(i) ?? null);
    const r = receiveOf.get(i);
    const p = protocol(i) ?? "?";
    let lat = latency?.[i];
    const cid = callId?.(i);
    if (p === "reply" && !(lat === lat && lat != null) && cid && callSent.has(cid)) lat = time[i] - callSent.get(cid)!;
    return {
      from: a,
      to: b,
      seq: at,
      seq2: r === undefined ? at : at + 0.4,
      t_ms: r3((time[i] - t0) / 1000),
      t2_ms: r3((time[r ?? i] - t0) / 1000),
      protocol: p,
      label: p === "reply" && lat != null && lat === lat ? `reply ${formatUs(lat)}` : p,
      message: clip(text?.(i) ?? "", 120),
      dir: b > a ? "right" : "left",
      self: a === b,
    };
  });
  const lifelines = lanes.map((p, l) => ({ lane: l, name: label.get(p) ?? p, pid: p, seq: -0.5, seq2: arrows.length - 0.5 }));
  const laneNames = lifelines.map((l) => (l.name === l.pid ? l.pid : `${l.name} ${l.pid}`));

  const x = {
    field: "from",
    type: "quantitative",
    title: "process",
    scale: { domain: [-0.5, Math.max(0.5, lanes.length - 0.5)], nice: false, zero: false },
    axis: { orient: "top", values: lanes.map((_, l) => l), labelExpr: `${JSON.stringify(laneNames)}[datum.value]`, grid: false, labelAngle: 0 },
  };
  const y = {
    field: "seq",
    type: "quantitative",
    title: "messages in order (the tooltip gives the time)",
    scale: { reverse: true, nice: false, domain: [-0.5, Math.max(0.5, arrows.length - 0.5)] },
    axis: { labels: false, ticks: false, grid: false },
  };
  const color = { field: "protocol", type: "nominal", title: "protocol", scale: { domain: PROTOCOLS, range: CATEGORY.slice(0, PROTOCOLS.length) } };
  return {
    ...baseSpec("Message sequence", [
      window < n
        ? `showing the first ${shown.length.toLocaleString("en")} messages of ${n.toLocaleString("en")} send/receive events, among ${lanes.length} processes`
        : `${all.length.toLocaleString("en")} messages among ${lanes.length} processes`,
      window < n ? undefined : keptNote(shown.length, all.length, "messages", "the first {n}"),
    ]),
    width: Math.max(300, 150 * lanes.length),
    height: Math.max(200, Math.min(6000, 26 * arrows.length)),
    layer: [
      {
        name: "lifelines",
        data: { values: lifelines },
        mark: { type: "rule", strokeDash: [4, 4], opacity: 0.6 },
        encoding: { x: { ...x, field: "lane" }, y, y2: { field: "seq2" } },
      },
      {
        name: "arrows",
        data: { values: arrows },
        transform: [{ calculate: "datum.self ? datum.from + 0.3 : datum.to", as: "x2" }],
        mark: { type: "rule", strokeWidth: 1.5, tooltip: true },
        encoding: {
          x,
          x2: { field: "x2" },
          y,
          y2: { field: "seq2" },
          color,
          tooltip: [
            { field: "label", title: "protocol" },
            { field: "message", title: "message" },
            { field: "t_ms", title: "sent (ms after the first message)" },
            { field: "t2_ms", title: "received (ms)" },
          ],
        },
      },
      {
        name: "heads",
        data: { values: arrows },
        mark: { type: "point", filled: true, size: 60, opacity: 1 },
        encoding: {
          x: { ...x, field: "to" },
          y: { ...y, field: "seq2" },
          color,
          shape: { field: "dir", type: "nominal", scale: { domain: ["right", "left"], range: ["triangle-right", "triangle-left"] }, legend: null },
        },
      },
      {
        name: "labels",
        data: { values: arrows },
        transform: [{ calculate: "datum.self ? datum.from + 0.35 : (datum.from + datum.to) / 2", as: "mid" }],
        mark: { type: "text", dy: -6, fontSize: 10 },
        encoding: { x: { ...x, field: "mid" }, y, text: { field: "label" }, color },
      },
    ],
  };
}

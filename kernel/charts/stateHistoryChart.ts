/**
 * A GenServer's state over time: one point per handled message (seq), and a range slider over seq that
 * picks one of them; below, the state after that message as text, and what the message changed (a diff of
 * the formatted state before and after, computed here). Text for every shown seq is embedded, so the
 * slider works without a kernel; long histories are thinned to `maxStates` evenly spaced seqs.
 */
import type { ColumnTable } from "../analysis/aq";
import { cellReader, hasColumn, numbers, requireColumns, texts } from "../analysis/columns";
import { formatUs } from "../analysis/stats";
import { ALERT, baseSpec, type ChartSpec } from "./theme";
import { clip, evenPositions, keptNote, MAX_VALUES, r3 } from "./data";

export interface StateHistoryOptions {
  /** The server to draw when the table holds several (default: the one with the most rows). */
  pid?: string;
  /** Most seqs embedded (300). */
  maxStates?: number;
  /** The seq shown first (default: the last). */
  seq?: number;
}

/**
 * The part of `before` and `after` that differs, with `context` characters around it:
 * { before: "…count: 1, …", after: "…count: 2, …" }, or null when they are equal.
 */
export function textDiff(before: string, after: string, context = 24): { before: string; after: string } | null {
  if (before === after) return null;
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let s = 0;
  while (s < before.length - p && s < after.length - p && before[before.length - 1 - s] === after[after.length - 1 - s]) s++;
  const cut = (t: string) => {
    const a = Math.max(0, p - context);
    const b = Math.min(t.length, t.length - s + context);
    return `${a > 0 ? "…" : ""}${t.slice(a, b)}${b < t.length ? "…" : ""}`;
  };
  return { before: cut(before), after: cut(after) };
}

/** Text cut into lines of at most `width` characters, at most `maxLines` of them. */
function wrap(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    for (let i = 0; i < para.length || i === 0; i += width) {
      lines.push(para.slice(i, i + width));
      if (lines.length > maxLines) return [...lines.slice(0, maxLines - 1), "…"];
    }
  }
  return lines;
}

const LINE_WIDTH = 110;

/**
 * A GenServer's state over time: a point per handled message and a slider that shows the state after it and
 * what the message changed. Takes a `%probe --state` table.
 * @example stateHistoryChart(states)
 */
export function stateHistoryChart(state: ColumnTable, options: StateHistoryOptions = {}): ChartSpec {
  requireColumns(state, ["pid", "seq", "state_after"], "stateHistoryChart");
  const n = state.numRows();
  const pid = texts(state, "pid");
  let server = options.pid;
  if (server === undefined) {
    const counts = new Map<string | null, number>();
    for (const p of pid) counts.set(p, (counts.get(p) ?? 0) + 1);
    server = ([...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "") as string;
  }
  const seq = numbers(state, "seq");
  const rows = Array.from({ length: n }, (_, i) => i)
    .filter((i) => pid[i] === server)
    .sort((a, b) => seq[a] - seq[b] || a - b);
  const maxStates = Math.max(1, Math.min(options.maxStates ?? 300, 1000));
  const shown = evenPositions(rows.length, maxStates).map((k) => rows[k]);

  const time = hasColumn(state, "time_us") ? numbers(state, "time_us") : null;
  const dur = hasColumn(state, "duration_us") ? numbers(state, "duration_us") : null;
  const kind = hasColumn(state, "kind") ? texts(state, "kind") : null;
  // Term columns are formatted only for the rows shown.
  const termText = (col: string) => {
    if (!hasColumn(state, col)) return null;
    const read = cellReader(state, col, true);
    const out = new Map(shown.map((i) => [i, read(i)]));
    return (i: number) => out.get(i) ?? null;
  };
  const message = termText("message");
  const before = termText("state_before");
  const after = termText("state_after")!;
  const sname = termText("state_name_after");
  const name = hasColumn(state, "name") ? texts(state, "name").find((v, i) => v != null && pid[i] === server) : undefined;

  // Lines of text per seq, within the data budget.
  const linesPerSeq = Math.max(4, Math.min(24, Math.floor((MAX_VALUES - shown.length) / Math.max(1, shown.length))));
  const t0 = time && shown.length ? time[shown[0]] : 0;
  // What each message changed: the node's own diff (`state_diff`, paths and values) where the row has one, else
  // a diff of the two states' text.
  const nodeDiff = hasColumn(state, "state_diff") ? texts(state, "state_diff") : null;
  const diffs = shown.map((i) => {
    const d = nodeDiff?.[i];
    if (d != null) return d === "(unchanged)" ? null : { changes: d };
    return before ? textDiff(before(i) ?? "", after(i) ?? "") : null;
  });
  const points = shown.map((i, k) => {
    const d = diffs[k];
    return {
      seq: seq[i],
      next_seq: k + 1 < shown.length ? seq[shown[k + 1]] : seq[i] + 1,
      t_ms: time ? r3((time[i] - t0) / 1000) : null,
      duration_us: dur && dur[i] === dur[i] ? dur[i] : null,
      kind: kind?.[i] ?? "message",
      changed: d !== null,
      message: clip(message?.(i) ?? "", 100),
    };
  });
  const lines = shown.flatMap((i, k) => {
    const p = points[k];
    const d = diffs[k];
    const head = `seq ${p.seq}${p.t_ms !== null ? ` at +${p.t_ms} ms` : ""}: ${p.kind} ${clip(p.message, 70)}${p.duration_us !== null ? ` (${formatUs(p.duration_us)})` : ""}`;
    const diffLines = !d ? ["(state unchanged)"] : "changes" in d ? [`~ ${clip(d.changes, LINE_WIDTH * 2)}`] : [`- ${clip(d.before, LINE_WIDTH)}`, `+ ${clip(d.after, LINE_WIDTH)}`];
    const stateText = `${sname?.(i) ? `state ${sname(i)}, data ` : ""}${after(i) ?? (nodeDiff?.[i] != null ? "(the state is bigger than --cut: only what changed was shipped)" : "")}`;
    const body = wrap(stateText, LINE_WIDTH, Math.max(1, linesPerSeq - 1 - diffLines.length));
    const all = [
      { role: "header", text: head },
      ...diffLines.map((t) => ({ role: t.startsWith("-") ? "before" : t.startsWith("+") || t.startsWith("~") ? "after" : "header", text: t })),
      ...body.map((t) => ({ role: "state", text: t })),
    ];
    return all.map((l, line) => ({ seq: p.seq, next_seq: p.next_seq, line, ...l }));
  });
  const maxLines = lines.reduce((m, l) => Math.max(m, l.line + 1), 1);
  const first = points.length ? points[0].seq : 0;
  const last = points.length ? points[points.length - 1].seq : 0;
  const start = options.seq ?? last;
  const selected = "datum.seq <= at_seq && at_seq < datum.next_seq";
  const yField = points.some((p) => p.duration_us !== null)
    ? { field: "duration_us", type: "quantitative", title: "callback time (µs)" }
    : { field: "kind", type: "nominal", title: "message kind" };

  return {
    ...baseSpec(`State history of ${name ? `${name} ` : ""}${server}`, [
      `${rows.length.toLocaleString("en")} messages handled; move the slider to see the state after each one`,
      keptNote(shown.length, rows.length, "messages", "{n} evenly spaced"),
    ]),
    resolve: { scale: { color: "independent", x: "independent", y: "independent" } },
    params: [{ name: "at_seq", value: start, bind: { input: "range", min: first, max: Math.max(first, last), step: 1, name: "seq " } }],
    vconcat: [
      {
        name: "history",
        width: 620, // with the axis labels, within a notebook's output area (about 860 px)
        height: 120,
        data: { values: points },
        layer: [
          {
            name: "selected",
            transform: [{ filter: selected }],
            mark: { type: "rule", color: ALERT, strokeWidth: 2 },
            encoding: { x: { field: "seq", type: "quantitative", title: "message number (seq)" } },
          },
          {
            name: "messages",
            mark: { type: "point", filled: true, size: 40, tooltip: true },
            encoding: {
              x: { field: "seq", type: "quantitative", title: "message number (seq)" },
              y: yField,
              color: { field: "kind", type: "nominal", title: "kind" },
              shape: { field: "changed", type: "nominal", title: "state changed", scale: { domain: [true, false], range: ["circle", "triangle-up"] } },
              tooltip: [
                { field: "seq", title: "seq" },
                { field: "kind", title: "kind" },
                { field: "message", title: "message" },
                { field: "duration_us", title: "time (µs)" },
              ],
            },
          },
        ],
      },
      {
        name: "state",
        width: 620, // with the axis labels, within a notebook's output area (about 860 px)
        height: 15 * maxLines,
        data: { values: lines },
        transform: [{ filter: selected }],
        mark: { type: "text", align: "left", baseline: "middle", font: "monospace", fontSize: 11 },
        encoding: {
          x: { value: 0 },
          y: { field: "line", type: "ordinal", axis: null, scale: { domain: Array.from({ length: maxLines }, (_, l) => l) } },
          text: { field: "text" },
          color: { field: "role", type: "nominal", legend: null, scale: { domain: ["header", "before", "after", "state"], range: ["#888888", ALERT, "#0072B2", "#888888"] } },
        },
      },
    ],
  };
}

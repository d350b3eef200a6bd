/**
 * A table in plain sentences, for the notebook reader who wants the gist before the chart: for calls, the
 * slowest calls and where their time went (self time from callTree), the outliers and the exceptions with
 * what preceded them on the same process; for messages, the protocol mix and the slowest call/reply; for
 * logs, counts by level and the first error; for anything else, its shape.
 */
import type { ColumnTable } from "./aq";
import { callTree } from "./callTree";
import { hasColumn, mfaColumn, numbers, rowNumbers, texts, values } from "./columns";
import { latencyTable } from "./latency";
import { outliers } from "./outliers";
import { formatUs, topPositions } from "./stats";
import { tableMeta } from "../tables/tableMeta";
import { explainWhatIf } from "./explainWhatIf";

const LEVELS = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"];
const ERROR_LEVELS = new Set(["emergency", "alert", "critical", "error"]);

/**
 * A table in plain sentences: for calls, the slowest and where their time went, the outliers and the
 * exceptions; for messages, the protocol mix and the slowest call/reply; for logs, counts by level.
 * @example explain(orders).forEach((s) => console.log(s))
 */
export function explain(table: ColumnTable): string[] {
  const kind = tableMeta(table)?.kind ?? guessKind(table);
  if (table.numRows() === 0) return [`The ${kind === "other" ? "table" : `${kind} table`} is empty (columns: ${table.columnNames().join(", ")}).`];
  if (kind === "calls") return explainCalls(table);
  if (kind === "messages") return explainMessages(table);
  if (kind === "logs") return explainLogs(table);
  if (kind === "whatif") return explainWhatIf(table);
  return explainOther(table);
}

function guessKind(t: ColumnTable): string {
  const has = (...cs: string[]) => cs.every((c) => hasColumn(t, c));
  if (has("module", "function", "arity", "start_us", "duration_us", "pid")) return "calls";
  if (has("protocol", "from_pid", "to_pid", "time_us")) return "messages";
  if (has("level", "message", "time_us")) return "logs";
  if (has("recorded", "replayed", "outcome", "same")) return "whatif";
  return "other";
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const clip = (s: string, max = 100) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
const pct = (part: number, whole: number) => `${whole > 0 ? Math.round((100 * part) / whole) : 0}%`;

function explainCalls(calls: ColumnTable): string[] {
  const out: string[] = [];
  const n = calls.numRows();
  const start = numbers(calls, "start_us");
  const dur = numbers(calls, "duration_us");
  const pid = texts(calls, "pid");
  const mfa = mfaColumn(calls);
  let t0 = Infinity;
  let t1 = -Infinity;
  for (let i = 0; i < n; i++) {
    if (start[i] < t0) t0 = start[i];
    if (start[i] + (dur[i] || 0) > t1) t1 = start[i] + (dur[i] || 0);
  }
  const at = (i: number) => `+${formatUs(start[i] - t0)}`;
  const lat = latencyTable(calls);
  out.push(`${plural(n, "call")} to ${plural(lat.numRows(), "function")} on ${plural(new Set(pid).size, "process", "processes")} over ${formatUs(t1 - t0)}.`);
  const [top] = lat.objects({ limit: 1 }) as Record<string, number & string>[];
  if (top) {
    out.push(
      `Most time went to ${top.mfa}: ${plural(top.count, "call")} totalling ${formatUs(top.count * top.mean_us)} (p50 ${formatUs(top.p50_us)}, p99 ${formatUs(top.p99_us)}, max ${formatUs(top.max_us)}).`,
    );
  }

  // The calls worth a closer look, and the call tree of just their processes.
  const slowest = topPositions(dur, 3)
    .filter((i) => dur[i] === dur[i])
    .sort((a, b) => dur[b] - dur[a] || a - b);
  const outcome = hasColumn(calls, "outcome") ? texts(calls, "outcome") : null;
  const raised: number[] = [];
  if (outcome) for (let i = 0; i < n; i++) if (outcome[i] === "exception") raised.push(i);
  const focus = new Set([...slowest, ...raised.slice(0, 3)].map((i) => pid[i]));
  const inFocus: number[] = [];
  for (let i = 0; i < n; i++) if (focus.has(pid[i])) inFocus.push(i);
  const sub = calls.ungroup().reify(Array.from(rowNumbers(calls, inFocus)));
  const tree = callTree(sub);
  const treeId = Array.from(values<number>(tree, "id")).map((id) => inFocus[id]);
  const treeParent = Array.from(values<number | null>(tree, "parent_id")).map((p) => (p == null ? -1 : inFocus[p]));
  const treeSelf = numbers(tree, "self_us");
  const parentOf = new Map<number, number>();
  const selfOf = new Map<number, number>();
  const children = new Map<number, number[]>();
  treeId.forEach((id, k) => {
    parentOf.set(id, treeParent[k]);
    selfOf.set(id, treeSelf[k]);
    if (treeParent[k] >= 0) {
      const list = children.get(treeParent[k]) ?? [];
      list.push(id);
      children.set(treeParent[k], list);
    }
  });

  slowest.forEach((i, rank) => {
    const kids = children.get(i) ?? [];
    const byMfa = new Map<string, { us: number; calls: number }>();
    for (const c of kids) {
      const e = byMfa.get(mfa[c]) ?? { us: 0, calls: 0 };
      e.us += dur[c];
      e.calls++;
      byMfa.set(mfa[c], e);
    }
    const parts = [...byMfa].sort((a, b) => b[1].us - a[1].us).slice(0, 2);
    const where = parts.map(([m, e]) => `${formatUs(e.us)} (${pct(e.us, dur[i])}) in ${m}${e.calls > 1 ? ` (${e.calls} calls)` : ""}`);
    const self = selfOf.get(i) ?? dur[i];
    const head = rank === 0 ? "The slowest call was" : rank === 1 ? "The next slowest was" : "Then";
    out.push(
      kids.length
        ? `${head} ${mfa[i]} on ${pid[i]} at ${at(i)}, taking ${formatUs(dur[i])}: ${where.join(", ")}, and ${formatUs(self)} (${pct(self, dur[i])}) in its own code.`
        : `${head} ${mfa[i]} on ${pid[i]} at ${at(i)}, taking ${formatUs(dur[i])}, all in its own code (no traced calls inside it).`,
    );
  });

  const odd = outliers(calls);
  if (odd.numRows() === 0) out.push("No call was an outlier for its function (robust z-score above 3.5).");
  else {
    const rows = odd.objects({ limit: 3 }) as Record<string, unknown>[];
    const list = rows.map((r) => `${r.mfa} on ${r.pid} took ${formatUs(Number(r.duration_us))} against a median of ${formatUs(Number(r.median_us))}`);
    out.push(`${plural(odd.numRows(), "call was an outlier", "calls were outliers")} for its function (robust z-score above 3.5): ${list.join("; ")}${odd.numRows() > 3 ? "; …" : ""}.`);
  }

  if (outcome) {
    if (!raised.length) out.push("No call raised.");
    else {
      const cls = hasColumn(calls, "exception_class") ? texts(calls, "exception_class") : null;
      const reason = hasColumn(calls, "exception_reason") ? texts(calls, "exception_reason") : null;
      out.push(`${plural(raised.length, "call")} raised${raised.length > 3 ? "; the first three:" : ":"}`);
      for (const i of raised.slice(0, 3)) {
        const ancestors = new Set<number>();
        for (let p = parentOf.get(i) ?? -1; p >= 0; p = parentOf.get(p) ?? -1) ancestors.add(p);
        const before = inFocus
          .filter((j) => j !== i && pid[j] === pid[i] && !ancestors.has(j) && (start[j] < start[i] || (start[j] === start[i] && j < i)))
          .sort((a, b) => start[a] - start[b] || a - b)
          .slice(-3)
          .map((j) => `${mfa[j]}${outcome[j] === "exception" ? " (raised)" : ""}`);
        const caller = parentOf.get(i) ?? -1;
        const what = [cls?.[i], reason?.[i] != null ? clip(reason[i] as string, 80) : null].filter(Boolean).join(" ");
        out.push(
          `${mfa[i]} raised${what ? ` ${what}` : ""} on ${pid[i]} at ${at(i)}${caller >= 0 ? `, called from ${mfa[caller]}` : ""}; ` +
            (before.length ? `before it on that process: ${before.join(", ")}.` : "nothing traced ran before it on that process."),
        );
      }
    }
  }
  return out;
}

function explainMessages(msgs: ColumnTable): string[] {
  const out: string[] = [];
  const n = msgs.numRows();
  const protocol = texts(msgs, "protocol");
  const from = texts(msgs, "from_pid");
  const to = texts(msgs, "to_pid");
  const counts = new Map<string, number>();
  for (const p of protocol) counts.set(p ?? "unknown", (counts.get(p ?? "unknown") ?? 0) + 1);
  const procs = new Set([...from, ...to].filter((p) => p != null));
  const mix = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([p, c]) => `${c.toLocaleString("en")} ${p}`);
  out.push(`${plural(n, "message")} among ${plural(procs.size, "process", "processes")}: ${mix.join(", ")}.`);
  if (hasColumn(msgs, "latency_us")) {
    const lat = numbers(msgs, "latency_us");
    const replies = Array.from({ length: n }, (_, i) => i).filter((i) => protocol[i] === "reply" && lat[i] === lat[i]);
    if (replies.length) {
      const worst = replies.reduce((a, b) => (lat[b] > lat[a] ? b : a));
      const sorted = Float64Array.from(replies, (i) => lat[i]).sort();
      const median = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      const name = (col: string, i: number) => (hasColumn(msgs, col) ? texts(msgs, col)[i] : null);
      const server = name("from_name", worst) ?? from[worst];
      const caller = name("to_name", worst) ?? to[worst];
      out.push(`The slowest call/reply took ${formatUs(lat[worst])}: ${caller} waiting on ${server}; the median over ${plural(replies.length, "reply", "replies")} was ${formatUs(median)}.`);
    } else out.push("No reply carries a latency (no call/reply pair was seen whole).");
  }
  return out;
}

function explainLogs(logs: ColumnTable): string[] {
  const out: string[] = [];
  const n = logs.numRows();
  const level = texts(logs, "level");
  const time = numbers(logs, "time_us");
  const counts = new Map<string, number>();
  for (const l of level) counts.set(l ?? "unknown", (counts.get(l ?? "unknown") ?? 0) + 1);
  const rank = (l: string) => (LEVELS.indexOf(l) < 0 ? LEVELS.length : LEVELS.indexOf(l));
  const mix = [...counts].sort((a, b) => rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : 1)).map(([l, c]) => `${c.toLocaleString("en")} ${l}`);
  out.push(`${plural(n, "log event")}: ${mix.join(", ")}.`);
  let first = -1;
  for (let i = 0; i < n; i++) if (ERROR_LEVELS.has(level[i] ?? "") && (first < 0 || time[i] < time[first])) first = i;
  if (first < 0) out.push("No errors were logged.");
  else {
    const opt = (col: string) => (hasColumn(logs, col) ? texts(logs, col)[first] : null);
    const where = [opt("pid") && `on ${opt("pid")}`, opt("mfa") && `in ${opt("mfa")}`].filter(Boolean).join(" ");
    const when = Number.isFinite(time[first]) ? new Date(time[first] / 1000).toISOString() : "an unknown time";
    out.push(`The first ${level[first]} was at ${when}${where ? ` ${where}` : ""}: ${clip(opt("message") ?? "")}`);
  }
  return out;
}

function explainOther(t: ColumnTable): string[] {
  const names = t.columnNames();
  const kind = tableMeta(t)?.kind;
  return [`${kind ? `${/^[aeiou]/i.test(kind) ? "An" : "A"} ${kind} table of ` : ""}${plural(t.numRows(), "row")} and ${plural(names.length, "column")}: ${names.join(", ")}.`];
}

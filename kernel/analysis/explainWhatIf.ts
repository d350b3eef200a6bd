/**
 * A what-if table in sentences (%explain on a %whatif result): how many replays gave the same result, which
 * differed and how (the diff of the first ones), what got faster or slower, what would have called out or
 * was sent, and what could not be replayed.
 */
import type { ColumnTable } from "./aq";
import { numbers, values } from "./columns";
import { formatUs, medianInPlace } from "./stats";
import { whatifStatuses } from "./whatifOutcomes";

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const clip = (s: string, max = 160) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
/** Examples named per sentence, at most. */
const EXAMPLES = 3;

export function explainWhatIf(t: ColumnTable): string[] {
  const n = t.numRows();
  const out: string[] = [];
  const status = whatifStatuses(t);
  const count = (s: string) => status.filter((x) => x === s).length;
  const fn = values<string>(t, "function");
  const row = values<number>(t, "row");
  const args = values<unknown>(t, "args");
  const diff = values<string | null>(t, "diff");
  const error = values<string | null>(t, "error");
  const wouldCall = values<string | null>(t, "would_call");
  const sentCount = values<number>(t, "sent_count");
  const rec = numbers(t, "recorded_us");
  const rep = numbers(t, "replayed_us");
  const fns = [...new Set(Array.from(fn))];
  const same = count("same result");
  const different = count("different");

  out.push(
    `${plural(n, "replay")} of ${fns.slice(0, 3).join(", ")}${fns.length > 3 ? ` and ${fns.length - 3} more` : ""}: ` +
      [
        `${same.toLocaleString("en")} gave the same result as recorded`,
        different ? `${different.toLocaleString("en")} a different one` : "",
        count("same? unknown") ? `${count("same? unknown").toLocaleString("en")} cannot be compared (the recorded result was cut or not recorded)` : "",
      ].filter(Boolean).join(", ") + ".",
  );
  const at = (i: number) => `row ${row[i]}${args[i] == null ? "" : ` (${clip(String(args[i]), 60)})`}`;
  const differing = status.flatMap((s, i) => (s === "different" ? [i] : []));
  for (const i of differing.slice(0, EXAMPLES)) out.push(`What changed at ${at(i)}: ${diff[i] ?? "the result"}.`);
  if (differing.length > EXAMPLES) out.push(`${plural(differing.length - EXAMPLES, "more row")} differ${differing.length - EXAMPLES === 1 ? "s" : ""} (filter the table on same === false).`);

  const timed = Array.from({ length: n }, (_, i) => i).filter((i) => rec[i] > 0 && rep[i] > 0 && (status[i] === "same result" || status[i] === "different"));
  if (timed.length) {
    const mRec = medianInPlace(Float64Array.from(timed, (i) => rec[i]));
    const mRep = medianInPlace(Float64Array.from(timed, (i) => rep[i]));
    const faster = timed.filter((i) => rep[i] * 2 < rec[i]);
    const slower = timed.filter((i) => rep[i] > rec[i] * 2);
    out.push(`Median duration ${formatUs(mRec)} recorded, ${formatUs(mRep)} replayed on the shadow node (recorded durations include the probe's tracing on a working node).`);
    const slowest = timed.reduce((a, i) => (rec[i] > rec[a] ? i : a), timed[0]);
    out.push(`The slowest recorded call, ${at(slowest)}, took ${formatUs(rec[slowest])}; replayed, ${formatUs(rep[slowest])}.`);
    if (faster.length) {
      const sRec = faster.reduce((s, i) => s + rec[i], 0);
      const sRep = faster.reduce((s, i) => s + rep[i], 0);
      out.push(`${plural(faster.length, "replay")} ran in under half the recorded time (${formatUs(sRec / faster.length)} → ${formatUs(sRep / faster.length)} on average)${faster.length <= EXAMPLES ? `: ${faster.map(at).join(", ")}` : ""}.`);
    }
    if (slower.length) out.push(`${plural(slower.length, "replay")} took over twice the recorded time${slower.length <= EXAMPLES ? `: ${slower.map(at).join(", ")}` : ""}.`);
  }
  const calls = status.flatMap((s, i) => (s === "would call out" ? [i] : []));
  if (calls.length) {
    const names = [...new Set(calls.map((i) => wouldCall[i]))];
    out.push(`${plural(calls.length, "replay")} would have called ${names.slice(0, 3).join(", ")} — stopped there, not delivered: the answer would have come from the recorded node.`);
  }
  const sent = Array.from(sentCount).reduce((s, c) => s + (c || 0), 0);
  if (sent) out.push(`The replays tried to send ${plural(sent, "message")} (listed in the sent column, none delivered).`);
  const timedOut = status.flatMap((s, i) => (s === "timed out" ? [i] : []));
  if (timedOut.length) out.push(`${plural(timedOut.length, "replay")} ran past the timeout and ${timedOut.length === 1 ? "was" : "were"} stopped: ${timedOut.slice(0, EXAMPLES).map(at).join(", ")}.`);
  const skipped = status.flatMap((s, i) => (s === "not replayed" ? [i] : []));
  if (skipped.length) out.push(`${plural(skipped.length, "row")} could not be replayed: ${clip(error[skipped[0]] ?? "", 200)}`);
  const outcome = values<string>(t, "outcome");
  const raised = Array.from({ length: n }, (_, i) => i).filter((i) => outcome[i] === "exception");
  if (raised.length) out.push(`${plural(raised.length, "replay")} raised: ${clip(error[raised[0]] ?? "", 160)}.`);
  return out;
}

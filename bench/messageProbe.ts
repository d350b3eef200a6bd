/**
 * Issue 4, "Speed": message probe throughput. A registered sink process on the node receives a flood of N
 * small messages from a fresh sender process, measured two ways in the same run, interleaved rep by rep:
 *   - raw ceiling: the sink traced with the flags the message probe uses (send, 'receive', monotonic
 *     timestamps) to a trivial tracer that only counts — messages/s = N / (flood start → N counted);
 *   - end to end: `%probe --messages SINK --limit N --rate 100000000 --for 60s`, the flood, `%events NAME
 *     --wait` — messages/s = N / (flood start → the N rows are in the Arquero table), timed in the kernel.
 * Each repetition measures both back to back, in alternating order; the figure is the median of the
 * repetitions' own ratios (a change of load on a shared machine moves both of a pair, not their ratio).
 */
import { randomBytes } from "node:crypto";
import { BeamBench } from "./beamBench";
import { emit, inTurns, median, medianRatio, note, round } from "./stats";

/** Messages per run (the sink's receives: one row each). */
export const MESSAGES = 100_000;

interface E2e {
  rows_ms: number;
  rows: number;
  send_us: number;
  dropped: number;
  why_ended: string | null;
}

async function e2e(b: BeamBench, sink: string, name: string, n: number): Promise<E2e> {
  return b.json<E2e>(`{
await __lumin_magic__("probe", "--messages ${sink} --limit ${n} --rate 100000000 --unsafe --for 60s --as ${name}");
const t0 = performance.now();
const fl = await __lumin_magic__("erlang", "lumin_bench:flood(${sink}, ${n}).");
const t = await __lumin_magic__("events", "${name} --wait=60s");
const rows = t.numRows();
const t1 = performance.now();
const p = (await __lumin_magic__("probes", "")).objects().find((o: any) => o.name === "${name}");
console.log(JSON.stringify({ rows_ms: t1 - t0, rows, send_us: fl.send_us, dropped: p?.dropped, why_ended: p?.why_ended }));
}`);
}

export async function benchMessageProbe(b: BeamBench, reps = 9): Promise<void> {
  const n = MESSAGES;
  const sink = `lbench_sink_${randomBytes(3).toString("hex")}`;
  await b.erl(`lumin_bench:start_sink(${sink}), ok.`);
  try {
    note("messages: warm-up");
    await b.erl(`lumin_bench:raw_messages(${sink}, 10000).`);
    await e2e(b, sink, "warm_msgs", 10_000);
    const raw: { total_us: number; send_us: number }[] = [];
    const ours: E2e[] = [];
    for (let i = 0; i < reps; i++) {
      note(`messages: run ${i + 1}/${reps}`);
      const measureRaw = async () => raw.push(await b.erl(`lumin_bench:raw_messages(${sink}, ${n}).`));
      const measureOurs = async () => ours.push(await e2e(b, sink, `msgs_${i}`, n));
      await inTurns(i, measureRaw, measureOurs);
    }
    const rawRates = raw.map((r) => n / (r.total_us / 1e6));
    const oursRates = ours.map((r) => r.rows / (r.rows_ms / 1000));
    const rawRate = median(rawRates);
    const oursRate = median(oursRates);
    const ratio = medianRatio(oursRates, rawRates);
    emit({
      bench: "message_probe_throughput",
      what: "messages/s received by a flooded process: end to end (flood start → rows in the Arquero table via %events --wait, timed in the kernel) vs the raw ceiling (a counting tracer receiving the same 'receive' trace messages)",
      messages: n,
      reps,
      raw_msgs_per_s: raw.map((r) => Math.round(n / (r.total_us / 1e6))),
      end_to_end_msgs_per_s: ours.map((r) => Math.round(r.rows / (r.rows_ms / 1000))),
      median_raw_msgs_per_s: Math.round(rawRate),
      median_end_to_end_msgs_per_s: Math.round(oursRate),
      median_end_to_end_ms: round(median(ours.map((r) => r.rows_ms)), 1),
      rows: ours.map((r) => r.rows),
      dropped: ours.map((r) => r.dropped),
      why_ended: ours.map((r) => r.why_ended),
      ratios: oursRates.map((x, i) => round(x / rawRates[i])),
      ratio: round(ratio),
      ratio_is: "median of each repetition's end_to_end_msgs_per_s / raw_msgs_per_s (measured back to back)",
      ratio_of_medians: round(oursRate / rawRate),
      target: "ratio ≥ 0.7",
      meets_target: ratio >= 0.7 && ours.every((r) => r.rows === n),
    });
  } finally {
    await b.erl(`lumin_bench:stop_sink(${sink}).`).catch(() => undefined);
  }
}

/**
 * Issue 3, "Speed": a function called in a tight loop on a local node (lumin_bench:work/1, N calls in a fresh
 * process), measured three ways in the same run, interleaved rep by rep:
 *   - untraced: the loop's own time (the cost of a call with no tracing);
 *   - raw ceiling: a trivial tracer on the same node receives the same trace messages ElixirLumin asks for
 *     (call + return_from, arity, monotonic timestamps; the whole call as the message with --args) and only
 *     counts them — completed calls/s = N / (loop start → all 2N messages counted);
 *   - end to end: `%probe lumin_bench:work/1 --limit N --rate 100000000 --for 60s`, the loop, then
 *     `%events NAME --wait` — calls/s = N / (loop start → the N rows are in the Arquero table), timed in
 *     the kernel; the kernel's memory per row (heap + external after full GCs, before arming vs with the
 *     table built: what the kernel holds for the rows, the probe's batches and the table).
 * Without and with --args. The per-call cost on the node is the loop's own time per call under each tracer.
 * Each repetition measures the raw ceiling and the probe back to back, in alternating order (so neither always
 * runs on a node just warmed or just loaded by the other), and the figure is the median of the repetitions'
 * own ratios: on a shared machine a change of load moves both of a pair, not the ratio.
 */
import { BeamBench, MEMORY_PRELUDE } from "./beamBench";
import { emit, inTurns, median, medianRatio, note, round } from "./stats";

/** Calls per run: below the probe's default on-node buffer of 200,000 rows, which the magic cannot raise. */
export const CALLS = 100_000;

interface E2e {
  loop_us: number;
  rows_ms: number;
  rows: number;
  bytes: number;
  seen: number;
  dropped: number;
  why_ended: string | null;
}

export async function e2e(b: BeamBench, name: string, n: number, args: boolean, noResult = false): Promise<E2e> {
  return b.json<E2e>(`{
${MEMORY_PRELUDE}
const m0 = mem();
await __lumin_magic__("probe", "lumin_bench:work/1 --limit ${n} --rate 100000000 --unsafe --for 60s --as ${name}${args ? " --args" : ""}${noResult ? " --no-result" : ""}");
const t0 = performance.now();
const loop = await __lumin_magic__("erlang", "lumin_bench:timed_loop(${n}).");
const t = await __lumin_magic__("events", "${name} --wait=60s");
const rows = t.numRows();
const t1 = performance.now();
const bytes = mem() - m0;
const p = (await __lumin_magic__("probes", "")).objects().find((o: any) => o.name === "${name}");
console.log(JSON.stringify({ loop_us: loop.loop_us, rows_ms: t1 - t0, rows, bytes, seen: p?.seen, dropped: p?.dropped, why_ended: p?.why_ended, keep: t.numCols() }));
}`);
}

interface Raw {
  loop_us: number;
  total_us: number;
}

export async function benchCallProbe(b: BeamBench, reps = 9): Promise<void> {
  const n = CALLS;
  // Warm-up, unmeasured: code paths on the node and in the kernel (a small probe each way).
  note("calls: warm-up");
  await b.erl(`lumin_bench:raw_calls(10000, false), lumin_bench:raw_calls(10000, true), ok.`);
  await e2e(b, "warm_plain", 10_000, false);
  await e2e(b, "warm_args", 10_000, true);

  const untraced: number[] = [];
  const raw: Record<"plain" | "args", Raw[]> = { plain: [], args: [] };
  const ours: Record<"plain" | "args", E2e[]> = { plain: [], args: [] };
  for (let i = 0; i < reps; i++) {
    note(`calls: run ${i + 1}/${reps}`);
    untraced.push((await b.erl<{ loop_us: number }>(`lumin_bench:timed_loop(${n}).`)).loop_us);
    for (const mode of ["plain", "args"] as const) {
      const measureRaw = async () => raw[mode].push(await b.erl<Raw>(`lumin_bench:raw_calls(${n}, ${mode === "args"}).`));
      const measureOurs = async () => ours[mode].push(await e2e(b, `calls_${mode}_${i}`, n, mode === "args"));
      await inTurns(i, measureRaw, measureOurs);
    }
  }

  const perCallUs = (loopUs: number) => loopUs / n;
  for (const mode of ["plain", "args"] as const) {
    const rawRates = raw[mode].map((r) => n / (r.total_us / 1e6));
    const oursRates = ours[mode].map((r) => r.rows / (r.rows_ms / 1000));
    const rawRate = median(rawRates);
    const oursRate = median(oursRates);
    const ratio = medianRatio(oursRates, rawRates);
    const target = mode === "plain" ? 0.9 : 0.4;
    emit({
      bench: mode === "plain" ? "call_probe_throughput" : "call_probe_throughput_args",
      what: `completed calls/s, ${mode === "args" ? "with" : "without"} --args: end to end (loop start → rows in the Arquero table via %events --wait, timed in the kernel) vs the raw ceiling (a counting tracer on the node receiving the same call/return_from messages)`,
      calls: n,
      reps,
      raw_calls_per_s: raw[mode].map((r) => Math.round(n / (r.total_us / 1e6))),
      end_to_end_calls_per_s: ours[mode].map((r) => Math.round(r.rows / (r.rows_ms / 1000))),
      median_raw_calls_per_s: Math.round(rawRate),
      median_end_to_end_calls_per_s: Math.round(oursRate),
      median_end_to_end_ms: round(median(ours[mode].map((r) => r.rows_ms)), 1),
      median_loop_ms_under_probe: round(median(ours[mode].map((r) => r.loop_us / 1000)), 1),
      median_raw_total_ms: round(median(raw[mode].map((r) => r.total_us / 1000)), 1),
      rows: ours[mode].map((r) => r.rows),
      dropped: ours[mode].map((r) => r.dropped),
      why_ended: ours[mode].map((r) => r.why_ended),
      ratios: oursRates.map((x, i) => round(x / rawRates[i])),
      ratio: round(ratio),
      ratio_is: "median of each repetition's end_to_end_calls_per_s / raw_calls_per_s (measured back to back)",
      ratio_of_medians: round(oursRate / rawRate),
      target: `ratio ≥ ${target}`,
      meets_target: ratio >= target && ours[mode].every((r) => r.rows === n),
    });
  }

  const memPlain = median(ours.plain.map((r) => r.bytes / r.rows));
  const memArgs = median(ours.args.map((r) => r.bytes / r.rows));
  emit({
    bench: "call_probe_kernel_memory",
    what: "kernel memory per row: (heap + external after full GCs, with the table built) − (same, before arming), / rows; without --args (the target) and with --args",
    calls: n,
    reps,
    bytes_per_row: ours.plain.map((r) => round(r.bytes / r.rows, 1)),
    median_bytes_per_row: round(memPlain, 1),
    median_bytes_per_row_args: round(memArgs, 1),
    ratio: round(memPlain / 64),
    ratio_is: "median_bytes_per_row / target (64 bytes)",
    target: "≤ 64 bytes per row without --args",
    meets_target: memPlain <= 64,
  });

  const base = median(untraced.map(perCallUs));
  const fig: Record<string, unknown> = {
    bench: "call_probe_node_cost",
    what: "cost of one traced call on the node: the loop's own time per call (µs) under our probe vs under the raw counting tracer; untraced beside",
    calls: n,
    reps,
    median_untraced_us_per_call: round(base, 4),
  };
  for (const mode of ["plain", "args"] as const) {
    const sfx = mode === "args" ? "_args" : "";
    const r = median(raw[mode].map((x) => perCallUs(x.loop_us)));
    const o = median(ours[mode].map((x) => perCallUs(x.loop_us)));
    fig[`median_raw_us_per_call${sfx}`] = round(r, 4);
    fig[`median_ours_us_per_call${sfx}`] = round(o, 4);
    fig[`ratio${sfx}`] = round(o / r);
  }
  const ratio = fig.ratio as number;
  Object.assign(fig, {
    ratio_is: "median_ours_us_per_call / median_raw_us_per_call (without --args; ratio_args with)",
    target: "ratio ≤ 1.5",
    meets_target: ratio <= 1.5,
  });
  emit(fig);
}

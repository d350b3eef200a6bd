/**
 * Issue 12, "Speed": what-if replays on the shadow node.
 *   - shadow start → first replay result: a kernel and node of their own per repetition (the shadow is
 *     started once per kernel and reused), one recorded call of lumin_bench:work/1, then `%whatif` timed in
 *     the kernel from the magic's call to its table (the shadow's own start time, as its caption states it,
 *     beside);
 *   - replays per second of a cheap recorded call: 10,000 calls of lumin_bench:work/1 recorded with --args,
 *     replayed by `%whatif` (one batch to the shadow and back), timed in the kernel; target ≥ 5,000/s;
 *   - the cost of `%suggest_tests` on those 10,000 rows (written, then run on the shadow), timed the same way.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BeamBench } from "./beamBench";
import { emit, median, note, round } from "./stats";

export const ROWS = 10_000;

/** Record `n` calls of lumin_bench:work/1 with their arguments as probe `name`. */
async function record(b: BeamBench, name: string, n: number): Promise<number> {
  return b.json<number>(`{
await __lumin_magic__("probe", "lumin_bench:work/1 --args --limit ${n} --rate 100000000 --unsafe --for 60s --as ${name}");
await __lumin_magic__("erlang", "lumin_bench:timed_loop(${n}).");
const t = await __lumin_magic__("events", "${name} --wait=60s");
console.log(JSON.stringify(t.numRows()));
}`);
}

/** Time a what-if of `name` in the kernel: ms, rows, rows the same, and the caption's shadow start (ms). */
async function timedWhatIf(b: BeamBench, name: string, as: string): Promise<{ ms: number; rows: number; same: number; started_ms: number | null }> {
  return b.json(`{
const t0 = performance.now();
const w = await __lumin_magic__("whatif", "${name} --as ${as}");
const ms = performance.now() - t0;
const same = w.filter((d: any) => d.same === true).numRows();
const caption = String(require(${JSON.stringify(path.join(__dirname, "..", "kernel", "tables", "tableMeta.js"))}).describeMeta(require(${JSON.stringify(path.join(__dirname, "..", "kernel", "tables", "tableMeta.js"))}).tableMeta(w)));
const started = /the shadow node started in (\\d+) ms/.exec(caption);
console.log(JSON.stringify({ ms, rows: w.numRows(), same, started_ms: started ? Number(started[1]) : null }));
}`);
}

export async function benchWhatIfStart(reps = 3): Promise<void> {
  const firsts: { ms: number; started_ms: number | null; same: number }[] = [];
  for (let i = 0; i < reps; i++) {
    note(`whatif: shadow start, run ${i + 1}/${reps} (a kernel and node of its own)`);
    const b = await BeamBench.start();
    try {
      await record(b, "one", 1);
      firsts.push(await timedWhatIf(b, "one", "first"));
    } finally {
      await b.stop();
    }
  }
  const ms = median(firsts.map((f) => f.ms));
  emit({
    bench: "whatif_shadow_start_to_first_result",
    what: "a kernel's first %whatif (one recorded call): the magic's call → its table, ms, timed in the kernel; it starts the shadow node (OTP peer, no distribution), fetches the module's object code from the node, replays; shadow_start_ms is the shadow's own start as the table's caption states it",
    reps,
    runs_ms: firsts.map((f) => round(f.ms, 1)),
    median_ms: round(ms, 1),
    shadow_start_ms: firsts.map((f) => f.started_ms),
    median_shadow_start_ms: median(firsts.map((f) => f.started_ms ?? NaN)),
    same_result: firsts.every((f) => f.same === 1),
    target: null,
    meets_target: null,
  });
}

export async function benchWhatIf(b: BeamBench, reps = 5): Promise<void> {
  note(`whatif: recording ${ROWS.toLocaleString("en")} calls with --args`);
  const recorded = await record(b, "wi_rows", ROWS);
  await timedWhatIf(b, "wi_rows", "wi_warm"); // shadow started, code fetched: the figure is the replays
  const runs: { ms: number; rows: number; same: number }[] = [];
  for (let i = 0; i < reps; i++) {
    note(`whatif: replays, run ${i + 1}/${reps}`);
    runs.push(await timedWhatIf(b, "wi_rows", `wi_${i}`));
    await b.k.run(`%drop wi_${i}`, 30_000);
  }
  const rate = median(runs.map((r) => r.rows / (r.ms / 1000)));
  emit({
    bench: "whatif_replays_per_s",
    what: "replays per second of a cheap recorded call (lumin_bench:work/1, 10,000 rows recorded with --args): %whatif's call → its table, timed in the kernel (rows shipped to the shadow in one batch, run one after another, one columnar batch back)",
    rows: recorded,
    reps,
    runs_ms: runs.map((r) => round(r.ms, 1)),
    replays_per_s: runs.map((r) => Math.round(r.rows / (r.ms / 1000))),
    median_replays_per_s: Math.round(rate),
    all_same_result: runs.every((r) => r.same === r.rows && r.rows === recorded),
    ratio: round(rate / 5000),
    ratio_is: "median_replays_per_s / target (5,000/s)",
    target: "≥ 5,000 replays/s",
    meets_target: rate >= 5000 && runs.every((r) => r.same === r.rows),
  });

  const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-bench-suggest-"));
  try {
    const times: number[] = [];
    let tests = 0;
    for (let i = 0; i < 3; i++) {
      note(`whatif: %suggest_tests on ${ROWS.toLocaleString("en")} rows, run ${i + 1}/3`);
      const r = await b.json<{ ms: number; tests: number; passed: number }>(`{
const t0 = performance.now();
const s = await __lumin_magic__("suggest_tests", "wi_rows --out ${path.join(dir, "bench_recorded_tests.erl")} --force");
console.log(JSON.stringify({ ms: performance.now() - t0, tests: s.tests, passed: s.passed }));
}`);
      times.push(r.ms);
      tests = r.tests;
      if (r.passed !== r.tests) throw new Error(`suggest_tests: ${r.passed} of ${r.tests} passed`);
    }
    emit({
      bench: "whatif_suggest_tests_10k_rows",
      what: "%suggest_tests on 10,000 recorded calls: rows to the shadow, grouped into behaviours, the EUnit module written and run there, the file written; the magic's call → done, ms, timed in the kernel",
      rows: recorded,
      reps: 3,
      tests_written: tests,
      runs_ms: times.map((t) => round(t, 1)),
      median_ms: round(median(times), 1),
      target: null,
      meets_target: null,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

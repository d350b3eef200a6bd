/**
 * Issue 10, "Speed": what a call probe costs the traced process with and without results. A function that
 * returns the state it is given (lumin_bench:state_work/1, a ~64 KB map: a handle_call that replies with its
 * state, small) is called N times in a fresh process, measured three ways in the same run, rep by rep:
 * untraced; under `%probe … ` (results: the VM copies each return value into the tracer); under
 * `%probe … --no-result` (no return value asked for: durations come from the return_to flag). The figure is
 * the loop's own time per call on the node, and the rows must all arrive either way.
 */
import { BeamBench } from "./beamBench";
import { emit, median, note, round } from "./stats";

const CALLS = 5_000;
const STATE_KB = 64;

interface Run {
  loop_us: number;
  rows: number;
}

async function probed(b: BeamBench, name: string, noResult: boolean): Promise<Run> {
  return b.json<Run>(`{
await __lumin_magic__("probe", "lumin_bench:state_work/1 --limit ${CALLS} --rate 100000000 --unsafe --for 60s --as ${name}${noResult ? " --no-result" : ""}");
const loop = await __lumin_magic__("erlang", "lumin_bench:timed_state_loop(${CALLS}, ${STATE_KB}).");
const t = await __lumin_magic__("events", "${name} --wait=60s");
console.log(JSON.stringify({ loop_us: loop.loop_us, rows: t.numRows() }));
}`);
}

export async function benchNoResult(b: BeamBench, reps = 5): Promise<void> {
  note("no-result: warm-up");
  await b.erl(`lumin_bench:timed_state_loop(1000, ${STATE_KB}).`);
  await probed(b, "warm_res", false);
  await probed(b, "warm_nores", true);
  const untraced: number[] = [];
  const withResult: Run[] = [];
  const noResult: Run[] = [];
  for (let i = 0; i < reps; i++) {
    note(`no-result: run ${i + 1}/${reps}`);
    untraced.push((await b.erl<{ loop_us: number }>(`lumin_bench:timed_state_loop(${CALLS}, ${STATE_KB}).`)).loop_us);
    withResult.push(await probed(b, `res_${i}`, false));
    noResult.push(await probed(b, `nores_${i}`, true));
  }
  const per = (us: number) => us / CALLS;
  const base = median(untraced.map(per));
  const res = median(withResult.map((r) => per(r.loop_us)));
  const nores = median(noResult.map((r) => per(r.loop_us)));
  emit({
    bench: "call_probe_no_result_node_cost",
    what: `node cost per call of a function returning a ~${STATE_KB} KB state: the loop's own time per call (µs) untraced, under a call probe with results, and with --no-result (all ${CALLS} rows must arrive)`,
    calls: CALLS,
    reps,
    median_untraced_us_per_call: round(base, 3),
    median_with_result_us_per_call: round(res, 3),
    median_no_result_us_per_call: round(nores, 3),
    rows_with_result: withResult.map((r) => r.rows),
    rows_no_result: noResult.map((r) => r.rows),
    ratio: round(nores / res),
    ratio_is: "median_no_result_us_per_call / median_with_result_us_per_call",
    target: "ratio < 1 (no return value copied), every row in",
    meets_target: nores < res && [...withResult, ...noResult].every((r) => r.rows === CALLS),
  });
}

/**
 * Issue 10, "Speed": every kind of probe armed at once on one process, against each alone. A registered
 * gen_server (lumin_bench) handles N casts and a final call; it is watched by a call probe (its handle_cast/2,
 * --no-result), a message probe, a state probe and a process probe, first each
 * alone, then all four at once, rep by rep. Figures: the node's time for the workload (first cast → the final
 * reply), and the end-to-end time until every probe's rows are in the kernel's tables; each probe's rows, drops
 * and why it ended (a state probe on a server flooded this hard ends on its cost budget, by design).
 * The ratio is each repetition's own (together against the sum of that repetition's parts, the runs of a
 * repetition back to back, together first in every other one), and the figure their median: a change of
 * load on a shared machine moves a repetition's runs alike, not their ratio. Every run has a server started
 * afresh: a run's speed depended on which ran before it. Single repetitions range from 0.7 to 1.9 on a 2-core
 * machine, hence 15 of them. The call and state probes are also measured together as a pair, run beside the four:
 * where the four cost more than their parts, that pair did (calls + messages and messages + state measured ≈ 1);
 * and the same pair without ElixirLumin (a bare tracer, a bare sys hook), to tell its share of that from the VM's.
 */
import { randomBytes } from "node:crypto";
import { BeamBench } from "./beamBench";
import { emit, median, note, round } from "./stats";

/** Together against untraced + the sum of each kind's extra time alone: ≈ 1 when the kinds cost what they cost alone. */
function ratioOf(untracedUs: number, aloneUs: readonly number[], togetherUs: number): number {
  return togetherUs / (untracedUs + aloneUs.reduce((s, a) => s + a - untracedUs, 0));
}

const CASTS = 20_000;
const KINDS = ["calls", "messages", "state", "procs"] as const;
type Kind = (typeof KINDS)[number];
const PAIR: readonly Kind[] = ["calls", "state"];

function armLine(kind: Kind, server: string, name: string): string {
  const budget = `--limit 1000000 --rate 100000000 --unsafe --for 60s --as ${name}`;
  switch (kind) {
    case "calls":
      return `lumin_bench:handle_cast/2 --no-result ${budget}`;
    case "messages":
      return `--messages ${server} ${budget}`;
    case "state":
      return `--state ${server} ${budget}`;
    case "procs":
      return `--procs=${server} ${budget}`;
  }
}

/** The same pair with neither ElixirLumin's tracer nor its hook (lumin_bench:raw_pair/2), µs per run. */
interface RawPair {
  untraced: number;
  calls: number;
  state: number;
  both: number;
}

interface Run {
  us: number;
  e2e_ms: number;
  probes: { kind: Kind; rows: number; seen: number; dropped: number; why_ended: string | null }[];
}

async function run(b: BeamBench, server: string, kinds: readonly Kind[], tag: string): Promise<Run> {
  const names = kinds.map((k) => `${tag}_${k}`);
  return b.json<Run>(`{
await __lumin_magic__("erlang", "lumin_bench:restart_server(${server}).");
${kinds.map((k, i) => `await __lumin_magic__("probe", ${JSON.stringify(armLine(k, server, names[i]))});`).join("\n")}
const t0 = performance.now();
const w = await __lumin_magic__("erlang", "lumin_bench:casts(${server}, ${CASTS}).");
await __lumin_magic__("disarm", "--all");
const probes = [];
${kinds.map((k, i) => `{ const t = await __lumin_magic__("events", "${names[i]} --wait=60s");
  const p = (await __lumin_magic__("probes", "")).objects().find((o: any) => o.name === "${names[i]}");
  probes.push({ kind: "${k}", rows: t.numRows(), seen: p?.seen, dropped: p?.dropped, why_ended: p?.why_ended }); }`).join("\n")}
const t1 = performance.now();
console.log(JSON.stringify({ us: w.us, e2e_ms: t1 - t0, probes }));
}`);
}

export async function benchKindsTogether(b: BeamBench, reps = 15): Promise<void> {
  const server = `lbench_srv_${randomBytes(3).toString("hex")}`;
  await b.erl(`lumin_bench:start_server(${server}), ok.`);
  note("kinds: warm-up");
  await b.erl(`lumin_bench:casts(${server}, 1000).`);
  await run(b, server, KINDS, "warm");
  const untraced: number[] = [];
  const alone: Record<Kind, Run[]> = { calls: [], messages: [], state: [], procs: [] };
  const together: Run[] = [];
  const pair: Run[] = [];
  const raw: RawPair[] = [];
  for (let i = 0; i < reps; i++) {
    note(`kinds: run ${i + 1}/${reps}`);
    const runTogether = async () => {
      together.push(await run(b, server, KINDS, `t${i}`));
      pair.push(await run(b, server, PAIR, `c${i}`));
      raw.push(await b.erl<RawPair>(`lumin_bench:raw_pair(${server}, ${CASTS}).`));
    };
    if (i % 2 === 1) await runTogether();
    untraced.push((await b.erl<{ us: number }>(`lumin_bench:restart_server(${server}), lumin_bench:casts(${server}, ${CASTS}).`)).us);
    for (const k of KINDS) alone[k].push(await run(b, server, [k], `a${i}`));
    if (i % 2 === 0) await runTogether();
  }
  const ms = (us: number) => us / 1000;
  const aloneWork = Object.fromEntries(KINDS.map((k) => [k, round(median(alone[k].map((r) => ms(r.us))), 1)]));
  const aloneE2e = Object.fromEntries(KINDS.map((k) => [k, round(median(alone[k].map((r) => r.e2e_ms)), 1)]));
  const togetherWork = median(together.map((r) => ms(r.us)));
  const ratios = together.map((r, i) => ratioOf(untraced[i], KINDS.map((k) => alone[k][i].us), r.us));
  const ratio = median(ratios);
  const pairRatios = pair.map((r, i) => ratioOf(untraced[i], PAIR.map((k) => alone[k][i].us), r.us));
  const rawRatios = raw.map((r) => ratioOf(r.untraced, [r.calls, r.state], r.both));
  emit({
    bench: "probe_kinds_together",
    what: `${CASTS} casts to one gen_server: node time for the workload (ms) untraced, under each kind alone (calls --no-result, messages, state, procs), and under all four at once; end-to-end time until every probe's rows are in (ms)`,
    casts: CASTS,
    reps,
    median_untraced_ms: round(median(untraced.map(ms)), 1),
    median_alone_ms: aloneWork,
    median_together_ms: round(togetherWork, 1),
    median_alone_e2e_ms: aloneE2e,
    median_together_e2e_ms: round(median(together.map((r) => r.e2e_ms)), 1),
    together_probes: together.map((r) => r.probes),
    alone_probes: Object.fromEntries(KINDS.map((k) => [k, alone[k].map((r) => r.probes[0])])),
    ratios: ratios.map((x) => round(x)),
    ratio: round(ratio),
    median_pair_ms: round(median(pair.map((r) => ms(r.us))), 1),
    pair_ratio: round(median(pairRatios)),
    pair_is: `${PAIR.join(" + ")} armed together, the same ratio against those two alone`,
    median_raw_pair_ms: { untraced: round(median(raw.map((r) => ms(r.untraced))), 1), calls: round(median(raw.map((r) => ms(r.calls))), 1), state: round(median(raw.map((r) => ms(r.state))), 1), both: round(median(raw.map((r) => ms(r.both))), 1) },
    raw_pair_ratio: round(median(rawRatios)),
    raw_pair_is: "the same pair's ratio without ElixirLumin, beside it in each repetition: a bare call trace (the same flags and pattern, to a tracer that drops each message) and a bare sys hook writing each event to an ETS table",
    ratio_is: "median over repetitions of together_ms / (untraced + the sum of each kind's extra time alone), each repetition's runs back to back: ≈ 1 when the kinds cost what they cost alone",
    target: "ratio ≤ 1.2, and armed together the call probe has a row per cast and the message probe one per cast (plus the final call and reply)",
    meets_target:
      ratio <= 1.2 &&
      together.every((r) => r.probes.find((p) => p.kind === "calls")?.rows === CASTS && (r.probes.find((p) => p.kind === "messages")?.rows ?? 0) >= CASTS + 2),
  });
}

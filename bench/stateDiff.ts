/**
 * Issue 10, "State probes that cannot hurt the server": what a state probe ships per message of a GenServer
 * holding ~40 MB of state whose messages each change a small part of it (lumin_bench's big server: a map of
 * 300,000 entries and a small queue record each cast changes).
 *
 * Two figures. First, the hook's own work per message in the watched process, side by side in one process
 * (lumin_bench:state_ship_cost/3): before — the state's view cut to --cut, as every message shipped until
 * state diffs — against after — lumin_kind_state:shipped/3, a diff against the state before (a cut snapshot
 * first); µs per message and heap bytes shipped per message, medians, at the default --cut and at 64 KB.
 * Second, end to end: N casts to the big server untraced and under `%probe --state` (budgets raised, so the
 * cost budget is what may end it), with the probe's rows, why it ended, and the rows' state_diff text size.
 */
import { randomBytes } from "node:crypto";
import { BeamBench } from "./beamBench";
import { emit, median, note, round } from "./stats";

const STATE_MB = 40;
const MESSAGES = 2_000;
const CASTS = 20_000;

interface Ship {
  before_us: number;
  after_us: number;
  before_bytes: number;
  after_bytes: number;
  state_mb: number;
}

interface Probed {
  us: number;
  rows: number;
  seen: number;
  why_ended: string | null;
  diff_chars: number;
  state_after_rows: number;
  state_bytes_per_row: number;
}

async function probed(b: BeamBench, server: string, name: string): Promise<Probed> {
  return b.json<Probed>(`{
await __lumin_magic__("probe", "--state ${server} --limit 1000000 --rate 100000000 --unsafe --for 60s --as ${name}");
const w = await __lumin_magic__("erlang", "lumin_bench:casts(${server}, ${CASTS}).");
await __lumin_magic__("disarm", "${name}");
const t = await __lumin_magic__("events", "${name} --wait=60s");
const p = (await __lumin_magic__("probes", "")).objects().find((o: any) => o.name === "${name}");
const diffs = t.array("state_diff").filter((d: any) => d != null);
console.log(JSON.stringify({ us: w.us, rows: t.numRows(), seen: p?.seen, why_ended: p?.why_ended,
  diff_chars: diffs.length ? Math.round(diffs.reduce((s: number, d: string) => s + d.length, 0) / diffs.length) : 0,
  state_after_rows: t.array("state_after").filter((v: any) => v != null).length,
  // What the rows carry of the state to the kernel: the state terms' bytes and the diff text's, per row.
  state_bytes_per_row: Math.round((["state_before", "state_after"].reduce((s: number, c: string) => s + t.array(c).reduce((a: number, v: any) => a + (v?.bytes?.length ?? 0), 0), 0)
    + diffs.reduce((s: number, d: string) => s + Buffer.byteLength(d), 0)) / Math.max(1, t.numRows())) }));
}`);
}

export async function benchStateDiff(b: BeamBench, reps = 3): Promise<void> {
  const ship: Record<string, Ship[]> = { "4096": [], "65536": [] };
  for (let i = 0; i < reps; i++) {
    for (const cut of Object.keys(ship)) {
      note(`statediff: hook work, --cut ${cut}, run ${i + 1}/${reps}`);
      ship[cut].push(await b.erl<Ship>(`lumin_bench:state_ship_cost(${STATE_MB}, ${MESSAGES}, ${cut}).`, 600_000));
    }
  }
  for (const [cut, runs] of Object.entries(ship)) {
    const m = (f: keyof Ship) => median(runs.map((r) => r[f]));
    emit({
      bench: `state_probe_shipped_per_message_cut_${cut}`,
      what: `a state probe's work per message in the watched process on a ~${runs[0].state_mb} MB GenServer state whose messages change a small record in it (--cut ${cut}): before (the whole state's view, cut) against after (a diff against the state before); µs and heap bytes shipped per message, medians of ${MESSAGES} messages`,
      messages: MESSAGES,
      reps,
      state_mb: runs[0].state_mb,
      median_before_us_per_message: round(m("before_us"), 3),
      median_after_us_per_message: round(m("after_us"), 3),
      median_before_bytes_per_message: m("before_bytes"),
      median_after_bytes_per_message: m("after_bytes"),
      target: "after ≤ before, in µs and in bytes, and the rows name the changed values (not a cut prefix of the state)",
      meets_target: m("after_us") <= m("before_us") && m("after_bytes") <= m("before_bytes"),
    });
  }

  const server = `lbench_big_${randomBytes(3).toString("hex")}`;
  note(`statediff: starting a ~${STATE_MB} MB server`);
  await b.erl(`lumin_bench:start_big_server(${server}, ${STATE_MB}), ok.`, 600_000);
  await b.erl(`lumin_bench:casts(${server}, 1000).`);
  const untraced: number[] = [];
  const runs: Probed[] = [];
  for (let i = 0; i < reps; i++) {
    note(`statediff: end to end, run ${i + 1}/${reps}`);
    untraced.push((await b.erl<{ us: number }>(`lumin_bench:casts(${server}, ${CASTS}).`)).us);
    runs.push(await probed(b, server, `sdiff_${i}`));
  }
  await b.erl(`gen_server:stop(${server}), ok.`);
  const base = median(untraced) / CASTS;
  const withProbe = median(runs.map((r) => r.us)) / CASTS;
  emit({
    bench: "state_probe_big_state_casts",
    what: `${CASTS} casts to a GenServer holding ~${STATE_MB} MB: the node's time per cast (µs) untraced and under %probe --state (rate and limit raised; its cost budget stays), the rows, why the probe ended, the rows that carry a state after (the cut snapshot), the mean length of state_diff, and the bytes of state (terms and diff text) per row sent to the kernel`,
    casts: CASTS,
    reps,
    median_untraced_us_per_cast: round(base, 3),
    median_probed_us_per_cast: round(withProbe, 3),
    probes: runs.map(({ us: _us, ...r }) => r),
    target: "one row per cast seen, only the first carries a state (cut); the rest only what changed",
    meets_target: runs.every((r) => r.rows === r.seen && r.state_after_rows <= 1),
  });
}

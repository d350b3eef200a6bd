/**
 * Issue 13, "Speed": the latency-spike investigation (notebooks/investigations/latency-spike.ipynb), its code
 * cells run one after another through a Jupyter client, three ways, in turns:
 *
 * - live: without its `%record` cell (a node started, probes armed, charts drawn);
 * - recorded: with `%record` — target: under 10% more wall time than live;
 * - replayed: `%replay` of the recording just made, from a folder holding only the recording (no sample app,
 *   no node) — target: under a third of the live run's wall time.
 *
 * Wall time is from the first cell's execute_request to the last cell's idle, in a kernel already started
 * (its start-up, the same for all three, is not part of it): a kernel has started once its TypeScript compiler can
 * compile a cell against the cell scope, which takes it about a second after it answers kernel_info. A live run
 * hides that inside `%node start`; so each run first waits for it, unmeasured. A replay runs the compiled cells
 * its recording keeps and need not wait for the compiler: it is also timed as it comes, from a kernel just
 * started (`replayed_from_start`), so what the start-up costs a replay is in the figures too.
 * The node's name is made unique per run; the sample app is compiled by a warm-up run first, and live and
 * recorded take turns going first.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JupyterKernel, ROOT } from "./jupyterClient";
import { emit, inTurns, median, note, nowMs, round } from "./stats";

const NOTEBOOK = path.join(ROOT, "notebooks", "investigations", "latency-spike.ipynb");

function codeCells(): string[] {
  const nb = JSON.parse(readFileSync(NOTEBOOK, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  return nb.cells.filter((c) => c.cell_type === "code").map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).filter((s) => !/^\s*%record\b/.test(s));
}

/**
 * Run `cells` in a new kernel whose working directory is `cwd`; the cells' wall time in ms, and each cell's.
 * `started`: first wait (unmeasured) until the kernel's compiler has started, by a cell that uses the cell scope.
 */
async function runCells(label: string, cwd: string, cells: string[], started = true): Promise<{ ms: number; each: number[] }> {
  const k = await JupyterKernel.spawn(label, [process.execPath, path.join(ROOT, "bin", "elixirlumin.js"), "kernel", "{connection_file}"], {
    cwd,
    env: { ELIXIRLUMIN_HISTORY_FILE: path.join(cwd, "history.jsonl") },
  });
  try {
    await k.ready();
    if (started) await k.run("typeof latencyTable", 180_000);
    const t = nowMs();
    const each: number[] = [];
    for (const c of cells) each.push((await k.run(c, 180_000)).ms);
    return { ms: nowMs() - t, each };
  } finally {
    await k.shutdown();
  }
}

export async function benchRecord(reps = 5): Promise<void> {
  const live: number[] = [];
  const recorded: number[] = [];
  const replayed: number[] = [];
  const replayedFromStart: number[] = [];
  const liveCells: number[][] = [];
  const replayCells: number[][] = [];
  // One copy of notebooks/ for every run, its sample app compiled by an unmeasured live run first (a fresh
  // copy's first %node start compiles the app: not what is being compared). Live and recorded take turns
  // going first.
  const folder = mkdtempSync(path.join(os.tmpdir(), "lumin-bench-record-"));
  cpSync(path.join(ROOT, "notebooks"), folder, { recursive: true, filter: (src) => !/[\\/](_build|deps|recordings)$/.test(src) });
  const cwd = path.join(folder, "investigations");
  // Each run's node has a name of its own: a kernel's shutdown stops its node without waiting for it to be gone,
  // so the next run must not need the name free. The replay runs the recorded run's cells, name and all.
  const cellsOf = (run: string) => codeCells().map((c) => c.replace(/^%node start spike\b/m, `%node start spike_bench_${process.pid}_${run}`));
  try {
    await runCells("warm-up", cwd, cellsOf("warm_up"));
    for (let i = 0; i < reps; i++) {
      const cells = cellsOf(`recorded_${i}`);
      const replayFolder = mkdtempSync(path.join(os.tmpdir(), "lumin-bench-replay-"));
      try {
        const runLive = async () => {
          const l = await runCells("live", cwd, cellsOf(`live_${i}`));
          live.push(l.ms);
          liveCells.push(l.each);
        };
        const runRecorded = async () => recorded.push((await runCells("recorded", cwd, ["%record recordings/bench", ...cells])).ms);
        await inTurns(i, runLive, runRecorded);
        cpSync(path.join(cwd, "recordings", "bench"), path.join(replayFolder, "recordings", "bench"), { recursive: true });
        const p = await runCells("replayed", replayFolder, ["%replay recordings/bench", ...cells]);
        replayed.push(p.ms);
        replayCells.push(p.each);
        replayedFromStart.push((await runCells("replayed from start", replayFolder, ["%replay recordings/bench", ...cells], false)).ms);
        note(`record: live ${round(live[i], 0)} ms, recorded ${round(recorded[i], 0)} ms, replayed ${round(replayed[i], 0)} ms (from the kernel's start ${round(replayedFromStart[i], 0)} ms)`);
      } finally {
        rmSync(replayFolder, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const l = median(live);
  emitAgainstLive("record_overhead", "latency-spike notebook's cells (a kernel already started): wall time with %record / without, ms",
    "recorded", recorded, l, 1.1, "< 1.10", { live_runs_ms: live.map((x) => round(x, 0)) });
  emitAgainstLive("replay_vs_live", "latency-spike notebook's cells replayed by %replay with no node vs run live, wall time ms",
    "replayed", replayed, l, 1 / 3, "< 0.333", {
      // Where the time goes, cell by cell (medians; the replay's first cell is %replay): the replay takes chart
      // pictures and compiled cells from the recording; what else does not touch a node costs the same both ways.
      cells: codeCells().map((c, i) => ({
        cell: c.split("\n")[0].slice(0, 48),
        live_ms: round(median(liveCells.map((x) => x[i])), 0),
        replayed_ms: round(median(replayCells.map((x) => x[i + 1])), 0),
      })),
      replay_cell_ms: round(median(replayCells.map((x) => x[0])), 0),
    });
  emitAgainstLive("replay_from_start_vs_live",
    "the same replay timed from a kernel that has just answered kernel_info (its first TypeScript cell waits for the compiler to start), vs the live run, wall time ms",
    "replayed", replayedFromStart, l, 1 / 3, "< 0.333");
}

/** A figure of `runs` (wall ms) against the live run's median: their median, the ratio, and whether it is under `limit`. */
function emitAgainstLive(bench: string, what: string, name: "recorded" | "replayed", runs: number[], liveMs: number, limit: number, target: string, extra: Record<string, unknown> = {}): void {
  const m = median(runs);
  emit({
    bench,
    what,
    reps: runs.length,
    [`${name}_runs_ms`]: runs.map((x) => round(x, 0)),
    [`${name}_median_ms`]: round(m, 0),
    live_median_ms: round(liveMs, 0),
    ratio: round(m / liveMs),
    ratio_is: `${name}_median_ms / live_median_ms`,
    target,
    meets_target: m / liveMs < limit,
    ...extra,
    loadavg: os.loadavg().map((x) => round(x, 2)),
  });
}

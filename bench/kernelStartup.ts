/**
 * Issue 2, "Speed": this kernel and tslab's, each spawned the same way (a connection file, the kernelspec's
 * command line) and driven by the same ZeroMQ client, interleaved run by run so both see the same machine:
 *   - spawn → kernel_info_reply (the request is sent at spawn; the client's sockets retry every 5 ms);
 *   - the first TypeScript cell (its round trip, and spawn → its result);
 *   - a magic-only cell (`%lsmagic`): first cell of a fresh kernel (cold: it must not wait for the TypeScript
 *     compiler, which is still loading) and again once warm. tslab has no line magics: no figure for it.
 * Both kernels run in an empty folder outside the repository, as a user's notebook does (no node_modules
 * around it: each kernel's compiler finds only the types it ships with).
 *
 * Issue 9's figure is spawn → the first TypeScript result (`[1,2,3].map(x => x * 2)`), ours at most 0.8×
 * tslab's: our compiler starts in its own thread as the kernel starts, so it overlaps the kernel's own start,
 * the client's handshake and the cold magic cell, where tslab starts its compiler before it answers anything.
 * Beside it, the same first cell with `console.log`, in kernels of their own: the quick converter knows
 * console's common methods, so such a cell does not wait for the full one (with Node's types).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JupyterKernel, ROOT } from "./jupyterClient";
import { emit, median, note, round } from "./stats";

const FIRST_CELL = "[1, 2, 3].map((x) => x * 2)";
/** The same first cell as many notebooks write it: with console.log, a name of Node's. */
const LOGGING_CELL = 'console.log([1, 2, 3].map((x) => x * 2).join(","))';
const MAGIC_CELL = "%lsmagic";

interface Run {
  kernelInfoMs: number;
  firstCellMs: number;
  spawnToFirstCellMs: number;
  /** CPU time the kernel process used from spawn to the first result (all its threads): the work itself. */
  cpuToFirstCellMs: number;
  coldMagicMs?: number;
  warmMagicMs?: number;
}

async function runOurs(tmp: string, i: number, cell = FIRST_CELL): Promise<Run> {
  const k = await JupyterKernel.spawn("ours", [process.execPath, path.join(ROOT, "bin", "elixirlumin.js"), "kernel", "{connection_file}"], {
    env: { ELIXIRLUMIN_HISTORY_FILE: path.join(tmp, `history-${i}.jsonl`) },
    cwd: notebookFolder(tmp),
  });
  try {
    const info = await k.request("shell", "kernel_info_request", {}, 30_000);
    const kernelInfoMs = info.ms; // sent right after spawn: this is spawn → reply
    await k.ready();
    const cold = await k.run(MAGIC_CELL, 30_000);
    const first = await k.run(cell, 60_000);
    const spawnToFirstCellMs = nowSince(k);
    const cpuToFirstCellMs = cpuMs(k);
    const shown = first.iopub.map((m) => JSON.stringify(m.content)).join("");
    if (!shown.includes(cell === FIRST_CELL ? "[ 2, 4, 6 ]" : "2,4,6")) throw new Error(`ours: the first cell did not show its result: ${shown.slice(0, 300)}`);
    const warm: number[] = [];
    for (let j = 0; j < 7; j++) warm.push((await k.run(MAGIC_CELL, 30_000)).ms);
    return { kernelInfoMs, coldMagicMs: cold.ms, firstCellMs: first.ms, spawnToFirstCellMs, cpuToFirstCellMs, warmMagicMs: median(warm) };
  } finally {
    await k.shutdown();
  }
}

async function runTslab(tmp: string, cell = FIRST_CELL): Promise<Run> {
  const k = await JupyterKernel.spawn("tslab", [process.execPath, path.join(ROOT, "node_modules", "tslab", "bin", "tslab"), "kernel", "--config-path", "{connection_file}"], {
    cwd: notebookFolder(tmp),
  });
  try {
    const info = await k.request("shell", "kernel_info_request", {}, 60_000);
    await k.ready();
    const first = await k.execute(cell, 60_000);
    const spawnToFirstCellMs = nowSince(k);
    const cpuToFirstCellMs = cpuMs(k);
    if (first.status !== "ok") throw new Error(`tslab: the first cell failed: ${JSON.stringify(first.reply.content).slice(0, 300)}`);
    return { kernelInfoMs: info.ms, firstCellMs: first.ms, spawnToFirstCellMs, cpuToFirstCellMs };
  } finally {
    await k.shutdown();
  }
}

/**
 * CPU ms the kernel process has used so far (user + system, every thread; Linux's /proc): on a shared, loaded
 * machine the wall times above stretch with everyone else's work, this much less.
 */
function cpuMs(k: JupyterKernel): number {
  try {
    const fields = readFileSync(`/proc/${k.child.pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    // After "(comm) ": state is field 0, utime field 11, stime field 12, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** An empty folder for one kernel's working directory, outside the repository. */
function notebookFolder(tmp: string): string {
  return mkdtempSync(path.join(tmp, "notebook-"));
}

/** ms since the kernel was spawned (called right after a cell finished: spawn → that cell's result). */
function nowSince(k: JupyterKernel): number {
  return performance.now() - k.spawnedAt;
}

export async function benchKernelStartup(reps = 5): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "lumin-bench-history-"));
  const ours: Run[] = [];
  const tslab: Run[] = [];
  const oursLogging: Run[] = [];
  const tslabLogging: Run[] = [];
  try {
    // One unmeasured start of each first: the OS file cache then holds both kernels' code, for both.
    note("kernel startup: warm-up spawn of each kernel");
    await runOurs(tmp, -1);
    await runTslab(tmp);
    for (let i = 0; i < reps; i++) {
      note(`kernel startup: run ${i + 1}/${reps}`);
      ours.push(await runOurs(tmp, i));
      tslab.push(await runTslab(tmp));
      oursLogging.push(await runOurs(tmp, reps + i, LOGGING_CELL));
      tslabLogging.push(await runTslab(tmp, LOGGING_CELL));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const m = (runs: Run[], f: (r: Run) => number | undefined) => median(runs.map((r) => f(r) ?? NaN));
  /** One figure measured in both kernels: the medians and their ratio (and each run, with `runs`). */
  const sideBySide = (pick: (r: Run) => number, runs: boolean, [oursRuns, tslabRuns] = [ours, tslab]) => {
    const oursMs = m(oursRuns, pick);
    const tslabMs = m(tslabRuns, pick);
    return {
      figures: {
        ...(runs ? { ours_ms: oursRuns.map((r) => round(pick(r), 1)), tslab_ms: tslabRuns.map((r) => round(pick(r), 1)) } : {}),
        median_ours_ms: round(oursMs, 1),
        median_tslab_ms: round(tslabMs, 1),
        ratio: round(oursMs / tslabMs),
        ratio_is: "median_ours_ms / median_tslab_ms",
      },
      oursMs,
      ratio: oursMs / tslabMs,
    };
  };
  const info = sideBySide((r) => r.kernelInfoMs, true);
  emit({
    bench: "kernel_info_reply",
    what: "spawn → kernel_info_reply, ms (ours vs tslab, same client, interleaved)",
    reps,
    ...info.figures,
    target: "ours ≤ 500 ms and ratio ours/tslab ≤ 0.333",
    meets_target: info.oursMs <= 500 && info.ratio <= 1 / 3,
  });
  emit({
    bench: "first_typescript_cell",
    what: "round trip of the first TypeScript cell (execute_request → execute_reply + idle), ms",
    reps,
    ...sideBySide((r) => r.firstCellMs, false).figures,
    target: null,
    meets_target: null,
  });
  const spawn = sideBySide((r) => r.spawnToFirstCellMs, true);
  emit({
    bench: "spawn_to_first_typescript_result",
    what: "spawn → the result of a first TypeScript cell `[1, 2, 3].map((x) => x * 2)`, ms (ours vs tslab, same client, interleaved; ours also ran a cold %lsmagic cell first)",
    reps,
    ...spawn.figures,
    median_ours_cpu_ms: round(m(ours, (r) => r.cpuToFirstCellMs), 0),
    median_tslab_cpu_ms: round(m(tslab, (r) => r.cpuToFirstCellMs), 0),
    cpu_is: "CPU time of the kernel process (all threads) from spawn to that result: the work, whatever the machine's load",
    target: "ratio ≤ 0.8",
    meets_target: spawn.ratio <= 0.8,
  });
  const logging = sideBySide((r) => r.spawnToFirstCellMs, true, [oursLogging, tslabLogging]);
  emit({
    bench: "spawn_to_first_logging_cell",
    what: `spawn → the output of a first TypeScript cell \`${LOGGING_CELL}\`, ms (each kernel fresh, as above)`,
    reps,
    ...logging.figures,
    median_ours_cpu_ms: round(m(oursLogging, (r) => r.cpuToFirstCellMs), 0),
    median_tslab_cpu_ms: round(m(tslabLogging, (r) => r.cpuToFirstCellMs), 0),
    target: "ratio ≤ 0.8 (as the cell without console.log)",
    meets_target: logging.ratio <= 0.8,
  });
  const warm = m(ours, (r) => r.warmMagicMs);
  const cold = m(ours, (r) => r.coldMagicMs);
  emit({
    bench: "magic_only_cell",
    what: "round trip of a %lsmagic cell, ms: warm (median of 7 per kernel), and cold (the kernel's first cell, before any TypeScript: must not wait for the compiler)",
    reps,
    median_warm_ms: round(warm, 2),
    median_cold_ms: round(cold, 2),
    cold_ms: ours.map((r) => round(r.coldMagicMs ?? NaN, 1)),
    median_tslab_ms: null,
    tslab_note: "tslab has no line magics",
    ratio: null,
    target: "< 20 ms (warm and cold)",
    meets_target: warm < 20 && cold < 20,
  });
}

/**
 * Issue 2, "Speed": this kernel and tslab's, each spawned the same way (a connection file, the kernelspec's
 * command line) and driven by the same ZeroMQ client, interleaved run by run so both see the same machine:
 *   - spawn → kernel_info_reply (the request is sent at spawn; the client's sockets retry every 5 ms);
 *   - the first TypeScript cell (its round trip, and spawn → its result);
 *   - a magic-only cell (`%lsmagic`): first cell of a fresh kernel (cold: it must not wait for the TypeScript
 *     compiler, which is still loading) and again once warm. tslab has no line magics: no figure for it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JupyterKernel, ROOT } from "./jupyterClient";
import { emit, median, note, round } from "./stats";

const FIRST_CELL = "const answer: number = 6 * 7;\nanswer";
const MAGIC_CELL = "%lsmagic";

interface Run {
  kernelInfoMs: number;
  firstCellMs: number;
  spawnToFirstCellMs: number;
  coldMagicMs?: number;
  warmMagicMs?: number;
}

async function runOurs(tmp: string, i: number): Promise<Run> {
  const k = await JupyterKernel.spawn("ours", [process.execPath, path.join(ROOT, "bin", "elixirlumin.js"), "kernel", "{connection_file}"], {
    env: { ELIXIRLUMIN_HISTORY_FILE: path.join(tmp, `history-${i}.jsonl`) },
  });
  try {
    const info = await k.request("shell", "kernel_info_request", {}, 30_000);
    const kernelInfoMs = info.ms; // sent right after spawn: this is spawn → reply
    await k.ready();
    const cold = await k.run(MAGIC_CELL, 30_000);
    const first = await k.run(FIRST_CELL, 60_000);
    const spawnToFirstCellMs = nowSince(k);
    if (!first.iopub.some((m) => m.header.msg_type === "execute_result")) throw new Error("ours: the first cell gave no execute_result");
    const warm: number[] = [];
    for (let j = 0; j < 7; j++) warm.push((await k.run(MAGIC_CELL, 30_000)).ms);
    return { kernelInfoMs, coldMagicMs: cold.ms, firstCellMs: first.ms, spawnToFirstCellMs, warmMagicMs: median(warm) };
  } finally {
    await k.shutdown();
  }
}

async function runTslab(): Promise<Run> {
  const k = await JupyterKernel.spawn("tslab", [process.execPath, path.join(ROOT, "node_modules", "tslab", "bin", "tslab"), "kernel", "--config-path", "{connection_file}"]);
  try {
    const info = await k.request("shell", "kernel_info_request", {}, 60_000);
    await k.ready();
    const first = await k.execute(FIRST_CELL, 60_000);
    const spawnToFirstCellMs = nowSince(k);
    if (first.status !== "ok") throw new Error(`tslab: the first cell failed: ${JSON.stringify(first.reply.content).slice(0, 300)}`);
    return { kernelInfoMs: info.ms, firstCellMs: first.ms, spawnToFirstCellMs };
  } finally {
    await k.shutdown();
  }
}

/** ms since the kernel was spawned (called right after a cell finished: spawn → that cell's result). */
function nowSince(k: JupyterKernel): number {
  return performance.now() - k.spawnedAt;
}

export async function benchKernelStartup(reps = 3): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "lumin-bench-history-"));
  const ours: Run[] = [];
  const tslab: Run[] = [];
  try {
    // One unmeasured start of each first: the OS file cache then holds both kernels' code, for both.
    note("kernel startup: warm-up spawn of each kernel");
    await runOurs(tmp, -1);
    await runTslab();
    for (let i = 0; i < reps; i++) {
      note(`kernel startup: run ${i + 1}/${reps}`);
      ours.push(await runOurs(tmp, i));
      tslab.push(await runTslab());
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const m = (runs: Run[], f: (r: Run) => number | undefined) => median(runs.map((r) => f(r) ?? NaN));
  const oursInfo = m(ours, (r) => r.kernelInfoMs);
  const tslabInfo = m(tslab, (r) => r.kernelInfoMs);
  emit({
    bench: "kernel_info_reply",
    what: "spawn → kernel_info_reply, ms (ours vs tslab, same client, interleaved)",
    reps,
    ours_ms: ours.map((r) => round(r.kernelInfoMs, 1)),
    tslab_ms: tslab.map((r) => round(r.kernelInfoMs, 1)),
    median_ours_ms: round(oursInfo, 1),
    median_tslab_ms: round(tslabInfo, 1),
    ratio: round(oursInfo / tslabInfo),
    ratio_is: "median_ours_ms / median_tslab_ms",
    target: "ours ≤ 500 ms and ratio ours/tslab ≤ 0.333",
    meets_target: oursInfo <= 500 && oursInfo / tslabInfo <= 1 / 3,
  });
  const oursFirst = m(ours, (r) => r.firstCellMs);
  const tslabFirst = m(tslab, (r) => r.firstCellMs);
  emit({
    bench: "first_typescript_cell",
    what: "round trip of the first TypeScript cell (execute_request → execute_reply + idle), ms; and spawn → its result",
    reps,
    median_ours_ms: round(oursFirst, 1),
    median_tslab_ms: round(tslabFirst, 1),
    median_ours_spawn_to_result_ms: round(m(ours, (r) => r.spawnToFirstCellMs), 1),
    median_tslab_spawn_to_result_ms: round(m(tslab, (r) => r.spawnToFirstCellMs), 1),
    ratio: round(oursFirst / tslabFirst),
    ratio_is: "median_ours_ms / median_tslab_ms",
    target: null,
    meets_target: null,
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

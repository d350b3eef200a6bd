/**
 * `npm run bench`: every "Speed" figure of issues 2–5, as JSON lines on stdout (one object per figure; each a
 * median of several repetitions; competitors measured side by side in the same run). Progress goes to stderr.
 *
 *   node dist/bench/run.js [kernel] [calls] [redact] [messages] [noresult] [kinds] [statediff] [top] [whatif] [cluster] [charts] [record]     (default: all, in that order)
 */
import { killAllKernels } from "./jupyterClient";
import { benchKernelStartup } from "./kernelStartup";
import { benchCharts } from "./charts";
import { BeamBench, killAllNodes } from "./beamBench";
import { benchCallProbe } from "./callProbe";
import { benchRedact } from "./redact";
import { benchMessageProbe } from "./messageProbe";
import { benchNoResult } from "./noResult";
import { benchKindsTogether } from "./kindsTogether";
import { benchStateDiff } from "./stateDiff";
import { benchTop } from "./top";
import { benchWhatIf, benchWhatIfStart } from "./whatif";
import { benchCluster } from "./cluster";
import { benchRecord } from "./record";
import { execFileSync } from "node:child_process";
import os from "node:os";
import { emit, emitError, note, round } from "./stats";

type Section = { name: string; run: () => Promise<void> };

/** One kernel and one node for the BEAM sections, started on first use and stopped after the last. */
let beam: Promise<BeamBench> | undefined;
const beamBench = () => (beam ??= BeamBench.start());

async function main(): Promise<void> {
  const sections: Section[] = [
    { name: "kernel", run: () => benchKernelStartup() },
    { name: "calls", run: async () => benchCallProbe(await beamBench()) },
    { name: "redact", run: async () => benchRedact(await beamBench()) },
    { name: "messages", run: async () => benchMessageProbe(await beamBench()) },
    { name: "noresult", run: async () => benchNoResult(await beamBench()) },
    { name: "kinds", run: async () => benchKindsTogether(await beamBench()) },
    { name: "statediff", run: async () => benchStateDiff(await beamBench()) },
    { name: "top", run: async () => benchTop(await beamBench()) },
    { name: "whatif", run: async () => { await benchWhatIf(await beamBench()); await benchWhatIfStart(); } },
    { name: "cluster", run: async () => benchCluster(await beamBench()) },
    { name: "charts", run: () => benchCharts() },
    { name: "record", run: () => benchRecord() },
  ];
  const wanted = process.argv.slice(2);
  const t0 = performance.now();
  emit(context("context"));
  for (const s of sections) {
    if (wanted.length && !wanted.includes(s.name)) continue;
    const t = performance.now();
    try {
      await s.run();
    } catch (e) {
      emitError(s.name, e);
    }
    note(`${s.name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if ((s.name === "top" || s.name === "whatif" || s.name === "cluster") && beam) await stopBeam();
  }
  await stopBeam();
  emit({ ...context("context_end"), total_s: round((performance.now() - t0) / 1000, 1) });
  note(`all: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The machine the figures come from, and how busy it was (other work on it skews every figure). */
function context(bench: string): Record<string, unknown> {
  let otp: string | null = null;
  if (bench === "context") {
    try {
      otp = execFileSync("erl", ["-noshell", "-eval", 'io:format("~s", [erlang:system_info(otp_release)]), halt().'], { encoding: "utf8", timeout: 20_000 }).trim();
    } catch {
      otp = null;
    }
  }
  return {
    bench,
    what: "not a figure: the machine, and its load average (1, 5, 15 min) when the benchmark started / ended",
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? null,
    memory_gb: round(os.totalmem() / 2 ** 30, 1),
    loadavg: os.loadavg().map((x) => round(x, 2)),
    node: process.version,
    ...(otp ? { otp } : {}),
    target: null,
    meets_target: null,
  };
}

async function stopBeam(): Promise<void> {
  const b = beam;
  beam = undefined;
  if (!b) return;
  try {
    await (await b).stop();
  } catch (e) {
    note(`stopping the BEAM kernel: ${(e as Error).message}`);
  }
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAllKernels();
    killAllNodes();
    process.exit(130);
  });
}
process.on("exit", () => {
  killAllKernels();
  killAllNodes();
});

main().then(
  () => process.exit(0),
  (e) => {
    emitError("bench", e);
    process.exit(1);
  },
);

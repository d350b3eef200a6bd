/**
 * Runs a shipped notebook headless with nbconvert, as a reader would: from a copy of notebooks/ in a folder
 * of its own outside the repository (the kernel's working directory is the notebook's folder, so its relative
 * paths, such as `--app ../apps/shop`, hold), with the kernelspec in a temporary JUPYTER_PATH.
 */
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { kernelspecDir, notebookFolder, ROOT } from "./jupyter";

/** A cell's output as nbformat saves it. */
export interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}

/** A cell as nbformat saves it. */
export interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

/** nbformat's multiline text (a string or a list of lines) as one string. */
export const joinText = (v: unknown): string => (Array.isArray(v) ? v.join("") : typeof v === "string" ? v : "");

export interface ExecutedNotebook {
  /** The executed notebook as saved by nbconvert (parsed JSON). */
  notebook: { cells: any[]; metadata: Record<string, any> };
  /** Where the executed copy is (inside `folder`). */
  file: string;
  /** The folder the notebook ran in: remove it with `cleanup()`. */
  folder: string;
  cleanup(): void;
}

/** `notebook` is a path under notebooks/ relative to the repository (e.g. "notebooks/welcome.ipynb"). */
export function executeNotebook(notebook: string, options: { timeoutSec?: number } = {}): Promise<ExecutedNotebook> {
  const folder = notebookFolder({ notebooks: true });
  return runNbconvert(notebook, path.join(folder, path.relative("notebooks", notebook)), folder, options);
}

/**
 * Runs a shipped notebook with `%replay` in place of its `%record`, from a folder of its own outside the
 * repository holding only the notebook and a copy of a recording of it — its shipped one, or `recording` (the
 * folder a live run just recorded) — and no sample app, so no node could start. `beamSeen` lists every BEAM
 * process (beam.smp, epmd, erl_child_setup) that descended from this test process while it ran: a replay
 * must start none.
 */
export async function replayNotebook(notebook: string, options: { timeoutSec?: number; recording?: string } = {}): Promise<ExecutedNotebook & { beamSeen: string[] }> {
  const folder = mkdtempSync(path.join(os.tmpdir(), "lumin-replay-"));
  const name = path.basename(notebook, ".ipynb");
  const nb = JSON.parse(readFileSync(path.join(ROOT, notebook), "utf8"));
  const first = nb.cells.find((c: Cell) => c.cell_type === "code" && /^\s*%record\b/.test(joinText(c.source)));
  if (!first) throw new Error(`${notebook} has no %record cell`);
  first.source = joinText(first.source).replace(/^(\s*)%record\b/, "$1%replay");
  const source = path.join(folder, path.basename(notebook));
  writeFileSync(source, JSON.stringify(nb));
  cpSync(options.recording ?? path.join(ROOT, path.dirname(notebook), "recordings", name), path.join(folder, "recordings", name), { recursive: true });
  const beamSeen = new Set<string>();
  const watch = setInterval(() => beamProcessesUnder(process.pid).forEach((p) => beamSeen.add(p)), 250);
  try {
    const run = await runNbconvert(notebook, source, folder, options);
    return { ...run, beamSeen: [...beamSeen] };
  } finally {
    clearInterval(watch);
  }
}

/** BEAM processes descending from `pid` (this test process: nbconvert, its kernel, anything they start). */
function beamProcessesUnder(pid: number): string[] {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .map(([p, pp, comm]) => ({ pid: Number(p), ppid: Number(pp), comm }));
  const mine = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) if (mine.has(r.ppid) && !mine.has(r.pid)) (mine.add(r.pid), (grew = true));
  }
  return rows.filter((r) => mine.has(r.pid) && /beam|epmd|erl_child/.test(r.comm)).map((r) => `${r.comm} (pid ${r.pid})`);
}

function runNbconvert(notebook: string, source: string, folder: string, options: { timeoutSec?: number }): Promise<ExecutedNotebook> {
  const spec = kernelspecDir();
  const outName = `${path.basename(notebook, ".ipynb")}.executed.ipynb`;
  const cleanup = () => {
    rmSync(folder, { recursive: true, force: true });
    rmSync(spec, { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    execFile(
      "jupyter",
      ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=elixirlumin", `--ExecutePreprocessor.timeout=${options.timeoutSec ?? 180}`, "--output", outName, source],
      { cwd: folder, env: { ...process.env, JUPYTER_PATH: path.join(spec, "share", "jupyter") }, timeout: 480_000, maxBuffer: 16 * 1024 * 1024 },
      (err, _out, stderr) => {
        if (err) {
          cleanup();
          return reject(new Error(`nbconvert failed on ${notebook}:\n${stderr.slice(-4000)}`));
        }
        const file = path.join(path.dirname(source), outName);
        resolve({ notebook: JSON.parse(readFileSync(file, "utf8")), file, folder, cleanup });
      },
    );
  });
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { cellTexts } = require("../../scripts/notebook-text") as { cellTexts: (nb: unknown, folder?: string) => (string | null)[] };

/**
 * A live run's notebook replayed from the recording that run just made (its `%record recordings/NAME`), and
 * each code cell's text from both runs (scripts/notebook-text.js: the %record/%replay cell, the replay note,
 * the run's folder and printed times aside). Call before the live run's cleanup.
 */
export async function replayOfLiveRun(notebook: string, live: ExecutedNotebook): Promise<{ live: (string | null)[]; replayed: (string | null)[]; beamSeen: string[] }> {
  const name = path.basename(notebook, ".ipynb");
  const ranIn = path.dirname(live.file);
  const replay = await replayNotebook(notebook, { recording: path.join(ranIn, "recordings", name), timeoutSec: 120 });
  try {
    return { live: cellTexts(live.notebook, ranIn), replayed: cellTexts(replay.notebook, path.dirname(replay.file)), beamSeen: replay.beamSeen };
  } finally {
    replay.cleanup();
  }
}

/**
 * Runs a shipped notebook headless with nbconvert, as a reader would: from a copy of notebooks/ in a folder
 * of its own outside the repository (the kernel's working directory is the notebook's folder, so its relative
 * paths, such as `--app ../apps/shop`, hold), with the kernelspec in a temporary JUPYTER_PATH.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { kernelspecDir, notebookFolder } from "./jupyter";

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
  const spec = kernelspecDir();
  const folder = notebookFolder({ notebooks: true });
  const source = path.join(folder, path.relative("notebooks", notebook));
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

#!/usr/bin/env node
/**
 * Records the notebooks' evidence again: runs each notebook (all of them, or those named) live with nbconvert
 * from a copy of notebooks/ in a temporary folder, as a reader would, then copies the recording it made
 * (`%record recordings/NAME`, its first code cell) back beside the notebook.
 *
 *   node scripts/record-notebooks.js [notebooks/investigations/latency-spike.ipynb …]
 *
 * Needs the build (dist/) and the agent (mix compile), and starts the BEAM nodes the notebooks start.
 */
"use strict";
const { execFileSync, spawnSync } = require("node:child_process");
const { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");

function allNotebooks() {
  const dir = (d) => readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith(".ipynb") && !f.includes(".executed.")).map((f) => path.join(d, f));
  return [...dir("notebooks"), ...dir("notebooks/investigations"), ...dir("notebooks/tours")];
}

const wanted = process.argv.slice(2).map((p) => path.relative(ROOT, path.resolve(p)));
const spec = mkdtempSync(path.join(os.tmpdir(), "lumin-spec-"));
execFileSync(process.execPath, [path.join(ROOT, "bin", "elixirlumin.js"), "install", "--prefix", spec]);
let failed = 0;
for (const notebook of wanted.length ? wanted : allNotebooks()) {
  const folder = mkdtempSync(path.join(os.tmpdir(), "lumin-record-"));
  cpSync(path.join(ROOT, "notebooks"), folder, { recursive: true, filter: (src) => !/[\\/](_build|deps|recordings|\.ipynb_checkpoints)$/.test(src) && !/\.executed\.ipynb$/.test(src) });
  const source = path.join(folder, path.relative("notebooks", notebook));
  const name = path.basename(notebook, ".ipynb");
  process.stdout.write(`• ${notebook}… `);
  const r = spawnSync("jupyter", ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=elixirlumin", "--ExecutePreprocessor.timeout=180", "--output", `${name}.executed.ipynb`, source], {
    cwd: path.dirname(source),
    env: { ...process.env, JUPYTER_PATH: path.join(spec, "share", "jupyter") },
    encoding: "utf8",
  });
  if (r.status !== 0) {
    process.stdout.write(`failed:\n${r.stderr.slice(-3000)}\n`);
    failed++;
  } else {
    const target = path.join(ROOT, path.dirname(notebook), "recordings");
    rmSync(path.join(target, name), { recursive: true, force: true });
    cpSync(path.join(path.dirname(source), "recordings", name), path.join(target, name), { recursive: true });
    const m = JSON.parse(readFileSync(path.join(target, name, "manifest.json"), "utf8"));
    process.stdout.write(`${m.requests.length} requests, ${(m.total_bytes / 1024).toFixed(0)} KB\n`);
  }
  rmSync(folder, { recursive: true, force: true });
}
rmSync(spec, { recursive: true, force: true });
process.exit(failed ? 1 : 0);

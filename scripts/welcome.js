#!/usr/bin/env node
/**
 * The main job, on an embedded default: set the machine up, then execute notebooks/welcome.ipynb headless
 * with nbconvert against the ElixirLumin kernel. The notebook starts its own local BEAM node, so nothing
 * else needs to be running. Prints where the executed notebook is.
 *
 * It runs in a copy of the notebook in a temporary folder, not in the checkout: run live, the notebook's
 * `%record` cell writes its recording beside it, and in place that would rewrite the recording shipped in
 * notebooks/recordings/welcome (the one CI replays) and leave the checkout changed. Only the executed notebook
 * comes back, as notebooks/welcome.executed.ipynb (ignored by git).
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const setup = spawnSync(process.execPath, [path.join(__dirname, "setup.js")], { stdio: "inherit" });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const output = path.join(ROOT, "notebooks", "welcome.executed.ipynb");
const folder = fs.mkdtempSync(path.join(os.tmpdir(), "elixirlumin-welcome-"));
const notebook = path.join(folder, "welcome.ipynb");
fs.copyFileSync(path.join(ROOT, "notebooks", "welcome.ipynb"), notebook);
process.stdout.write("• executing notebooks/welcome.ipynb with nbconvert (in a copy: the checkout is left as it is)…\n");
const r = spawnSync(
  "jupyter",
  ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=elixirlumin",
   "--ExecutePreprocessor.timeout=180", "--output", path.basename(output), notebook],
  { stdio: "inherit", cwd: folder },
);
const executed = path.join(folder, path.basename(output));
if (fs.existsSync(executed)) fs.copyFileSync(executed, output);
fs.rmSync(folder, { recursive: true, force: true });
if (r.status !== 0) {
  process.stderr.write("\nwelcome: the notebook did not run to the end (see the error above).\n");
  process.exit(r.status ?? 1);
}
process.stdout.write(`\nThe executed notebook is at ${output}\nOpen it (and the others) with:  jupyter notebook notebooks/\n`);

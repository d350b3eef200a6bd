#!/usr/bin/env node
/**
 * The main job, on an embedded default: set the machine up, then execute notebooks/welcome.ipynb headless
 * with nbconvert against the ElixirLumin kernel. The notebook starts its own local BEAM node, so nothing
 * else needs to be running. Prints where the executed notebook is.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const setup = spawnSync(process.execPath, [path.join(__dirname, "setup.js")], { stdio: "inherit" });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const notebook = path.join(ROOT, "notebooks", "welcome.ipynb");
const output = path.join(ROOT, "notebooks", "welcome.executed.ipynb");
process.stdout.write("• executing notebooks/welcome.ipynb with nbconvert…\n");
const r = spawnSync(
  "jupyter",
  ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=elixirlumin",
   "--ExecutePreprocessor.timeout=180", "--output", path.basename(output), notebook],
  { stdio: "inherit", cwd: path.dirname(notebook) },
);
if (r.status !== 0) {
  process.stderr.write("\nwelcome: the notebook did not run to the end (see the error above).\n");
  process.exit(r.status ?? 1);
}
process.stdout.write(`\nThe executed notebook is at ${output}\nOpen it (and the others) with:  jupyter notebook notebooks/\n`);

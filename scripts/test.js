#!/usr/bin/env node
/**
 * The test command (`npm test`): set the machine up (browser included), then run every suite — vitest
 * (unit and integration: real kernel, real Jupyter client, real BEAM nodes, real browser, notebooks run by
 * nbconvert) and the agent's ExUnit tests. Extra arguments go to vitest (e.g. `npm test -- test/unit`).
 */
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const run = (cmd, argv, opts = {}) => spawnSync(cmd, argv, { stdio: "inherit", cwd: ROOT, ...opts }).status ?? 1;

let status = run(process.execPath, [path.join(__dirname, "setup.js"), "--with-browser", "--no-kernelspec"]);
if (status !== 0) process.exit(status);

const vitestArgs = process.argv.slice(2);
const failures = [];
if (run(process.execPath, [path.join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", ...vitestArgs]) !== 0) failures.push("vitest");
if (vitestArgs.length === 0) {
  if (run("mix", ["test"], { cwd: path.join(ROOT, "elixir_agent"), env: { ...process.env, MIX_ENV: "test" } }) !== 0) failures.push("ExUnit (elixir_agent)");
}
if (failures.length) {
  process.stderr.write(`\nFailed: ${failures.join(", ")}\n`);
  process.exit(1);
}
process.stdout.write("\nAll tests passed.\n");

#!/usr/bin/env node
/**
 * npm's pack hooks (`npm pack`, `npm publish`): the package carries what git does not.
 *
 *   node scripts/pack.js          (prepack) the build (scripts/build.js: dist/ and the danfo.js bundle),
 *                                 and the Elixir agent compiled into elixir_agent/ebin with build.json saying
 *                                 which OTP and Elixir compiled it
 *   node scripts/pack.js --clean  (postpack) remove elixir_agent/ebin again, so a checkout keeps using its
 *                                 own Mix build
 *
 * Pack on the oldest supported OTP (25, as Debian 12 has): its .beam files load on every later OTP, so the
 * kernel needs no compiler step on most machines; where the shipped build does not fit (an older OTP, another
 * Elixir minor), the kernel compiles the shipped sources once into the user's cache
 * (kernel/beam/agentBuild.ts).
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const SHIPPED = path.join(ROOT, "elixir_agent", "ebin");

fs.rmSync(SHIPPED, { recursive: true, force: true });
if (!process.argv.includes("--clean")) {
  try {
    const { buildTypeScript, bundleDanfo } = require("./build");
    buildTypeScript();
    bundleDanfo();
    const { compileAgent, runtimeVersions } = require(path.join(ROOT, "dist", "kernel", "beam", "agentBuild.js"));
    const runtime = runtimeVersions();
    compileAgent(path.join(ROOT, "elixir_agent"), SHIPPED, runtime);
    process.stdout.write(`pack: elixir_agent/ebin compiled on OTP ${runtime.otp}, Elixir ${runtime.elixir}\n`);
  } catch (e) {
    process.stderr.write(`pack: ${e.message}\n`);
    process.exit(1);
  }
}

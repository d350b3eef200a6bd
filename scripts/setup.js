#!/usr/bin/env node
/**
 * Brings a fresh machine to the point where the kernel runs and the tests pass: Debian packages
 * (Erlang/OTP, Elixir, Jupyter Notebook + nbconvert + jupyter_client, and Chromium for the browser tests),
 * npm dependencies, the build (scripts/build.js), the Elixir agent build, and the kernelspec.
 *
 * It uses Node's built-ins only, because it runs before `npm ci`. Each step is skipped when already done,
 * so running it twice is cheap. Used by `npm run welcome`, `npm test` and `.ci/run`.
 *
 *   node scripts/setup.js [--with-browser] [--no-kernelspec]
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const args = new Set(process.argv.slice(2));

/** What the project needs from Debian, and how to tell each is there. */
const DEBIAN_NEEDS = [
  { what: "Erlang/OTP 25+", packages: ["erlang-nox", "erlang-dev"], present: () => onPath("erl") && onPath("erlc") && onPath("epmd") },
  { what: "Elixir", packages: ["elixir"], present: () => onPath("elixir") && onPath("mix") },
  {
    what: "Jupyter Notebook, nbconvert and jupyter_client",
    packages: ["jupyter-notebook", "jupyter-nbconvert", "jupyter-client", "python3-nbconvert", "python3-jupyter-client", "python3-ipykernel"],
    present: () =>
      onPath("jupyter") && onPath("jupyter-nbconvert") && onPath("jupyter-kernelspec") &&
      run("/usr/bin/python3", ["-c", "import jupyter_client, nbconvert, nbformat"], { quiet: true }).ok,
  },
  { what: "Liberation fonts (the text of chart pictures)", packages: ["fonts-liberation"], present: () => fs.existsSync("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf") },
];
const BROWSER_NEED = { what: "Chromium (browser tests)", packages: ["chromium"], present: () => fs.existsSync("/usr/bin/chromium") };

function onPath(cmd) {
  return run("sh", ["-c", `command -v ${cmd}`], { quiet: true }).ok;
}

function run(cmd, argv, { cwd = ROOT, quiet = false, env } = {}) {
  const r = spawnSync(cmd, argv, { cwd, stdio: quiet ? "pipe" : "inherit", env: { ...process.env, ...env } });
  return { ok: r.status === 0, status: r.status, stdout: r.stdout ? r.stdout.toString() : "" };
}

function step(title, fn) {
  const t0 = Date.now();
  process.stdout.write(`• ${title}…\n`);
  fn();
  process.stdout.write(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

function fail(message) {
  process.stderr.write(`\nsetup: ${message}\n`);
  process.exit(1);
}

function ensureDebianPackages() {
  const needs = args.has("--with-browser") ? [...DEBIAN_NEEDS, BROWSER_NEED] : DEBIAN_NEEDS;
  const missing = needs.filter((n) => !n.present());
  if (missing.length === 0) return;
  const packages = missing.flatMap((n) => n.packages);
  const canInstall = process.getuid && process.getuid() === 0 && onPath("apt-get");
  if (!canInstall) {
    fail(
      `missing: ${missing.map((n) => n.what).join(", ")}.\n` +
        `Install them with:\n  sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}\nthen run this command again.`,
    );
  }
  step(`installing Debian packages: ${packages.join(" ")}`, () => {
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    if (!run("apt-get", ["update", "-q"], { env }).ok) fail("apt-get update failed (see above).");
    if (!run("apt-get", ["install", "-y", "-q", ...packages], { env }).ok) {
      fail(`apt-get install failed for: ${packages.join(" ")} (see above).`);
    }
  });
  const still = missing.filter((n) => !n.present());
  if (still.length) fail(`still missing after apt-get: ${still.map((n) => n.what).join(", ")}.`);
}

function ensureNodeModules() {
  const lock = path.join(ROOT, "package-lock.json");
  const stamp = path.join(ROOT, "node_modules", ".package-lock.json");
  const fresh = fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= fs.statSync(lock).mtimeMs;
  if (fresh) return;
  step("installing npm dependencies (npm ci)", () => {
    if (!run("npm", ["ci", "--no-audit", "--no-fund"]).ok) fail("npm ci failed (see above).");
  });
}

function buildKernel() {
  step("building the kernel (tsc) and its danfo.js bundle (esbuild)", () => {
    try {
      const { buildTypeScript, bundleDanfo } = require("./build");
      buildTypeScript();
      bundleDanfo();
    } catch (e) {
      fail(e.message);
    }
  });
}

function buildAgent() {
  step("building the Elixir agent (mix compile)", () => {
    const env = { MIX_ENV: "prod" };
    if (!run("mix", ["compile"], { cwd: path.join(ROOT, "elixir_agent"), env }).ok) fail("mix compile failed in elixir_agent/ (see above).");
  });
}

function installKernelspec() {
  step("registering the Jupyter kernel (elixirlumin install --user)", () => {
    if (!run(process.execPath, [path.join(ROOT, "bin", "elixirlumin.js"), "install", "--user"]).ok) fail("kernelspec install failed (see above).");
  });
}

ensureDebianPackages();
ensureNodeModules();
buildKernel();
buildAgent();
if (!args.has("--no-kernelspec")) installKernelspec();

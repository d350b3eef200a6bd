#!/usr/bin/env node
/**
 * The build (`npm run build`): the TypeScript → dist/ (tsc), and danfo.js bundled into one file,
 * dist/vendor/danfojs-node.js (esbuild), that `toDanfo(table)` loads.
 *
 * Why danfo is bundled rather than a dependency: the published danfojs-node depends on @tensorflow/tfjs-node,
 * whose install script downloads TensorFlow's C library from outside the npm registry, and on xlsx as a
 * tarball on a CDN. The repository's `overrides` swap those for @tensorflow/tfjs (pure JavaScript) and
 * xlsx 0.18.5 from the registry, but npm applies overrides only to the project being installed, never to a
 * package installed as someone's dependency (`npm install -g elixirlumin`). So the substituted tree is
 * bundled here, at build time, with its licence notices beside it (danfojs-node.js.LEGAL.txt), and the
 * package has no danfo dependency at all.
 *
 *   node scripts/build.js            both
 *   require("./build").buildTypeScript() / .bundleDanfo()
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const VENDOR = path.join(ROOT, "dist", "vendor");

function buildTypeScript() {
  const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) throw new Error("the TypeScript build failed (see above).");
}

function bundleDanfo() {
  let esbuild;
  try {
    esbuild = require("esbuild");
  } catch {
    throw new Error("esbuild is not installed: run `npm ci` (the devDependencies changed).");
  }
  const entry = require.resolve("danfojs-node", { paths: [ROOT] });
  const version = (name) => JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [path.dirname(entry)] }), "utf8")).version;
  fs.mkdirSync(VENDOR, { recursive: true });
  const result = esbuild.buildSync({
    entryPoints: [entry],
    outfile: path.join(VENDOR, "danfojs-node.js"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    legalComments: "linked",
    // Plotly is required only in a browser (danfo checks for `window`); a kernel has none.
    external: ["plotly.js-dist-min"],
    banner: { js: `/* danfojs-node ${version("danfojs-node")} bundled with @tensorflow/tfjs ${version("@tensorflow/tfjs-node")} (in place of tfjs-node) and xlsx ${version("xlsx")}, by scripts/build.js; licences in danfojs-node.js.LEGAL.txt */` },
    logLevel: "warning",
  });
  if (result.errors.length) throw new Error("bundling danfo.js failed (see above).");
}

module.exports = { buildTypeScript, bundleDanfo };

if (require.main === module) {
  try {
    buildTypeScript();
    bundleDanfo();
  } catch (e) {
    process.stderr.write(`build: ${e.message}\n`);
    process.exit(1);
  }
}

/**
 * Where the bridge node finds the compiled elixir_agent (its ebin directory). Decided once per kernel, in
 * this order:
 *
 * 1. `LUMIN_AGENT_EBIN`, when set (a developer's own build).
 * 2. A source checkout's Mix build, `elixir_agent/_build/{prod,dev,test}`, as `mix compile` leaves it.
 * 3. The build shipped in the npm package, `elixir_agent/ebin`, compiled by `npm pack` on the oldest
 *    supported OTP (see `build.json` beside it) — used when this machine's OTP is at least that one and its
 *    Elixir has the same major.minor (Elixir promises its compiled code to the Elixir that compiled it).
 * 4. Otherwise, compiled once from the package's own sources into the user's cache,
 *    `~/.cache/elixirlumin/VERSION-HASH/otpN-elixirV/ebin` (HASH: of the sources, so an edited checkout never
 *    runs a stale build). Never into the install prefix, which may be read-only (a global npm install).
 *
 * Erlang/OTP 25+ and Elixir 1.14+ must be on PATH; without them the error says what to install.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** The package's root (dist/kernel/beam → ../../..) and its Mix project. */
export const PACKAGE_ROOT = path.join(__dirname, "..", "..", "..");
const MIN_OTP = 25;
const MIN_ELIXIR: [number, number] = [1, 14];
const BUILD_STAMP = "build.json";

export interface Runtime {
  otp: number;
  elixir: string;
}

export interface AgentBuildPlaces {
  /** The package (or checkout) whose elixir_agent/ is used. */
  root: string;
  /** Where builds made on this machine go. */
  cacheDir: string;
}

export function defaultPlaces(): AgentBuildPlaces {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return { root: PACKAGE_ROOT, cacheDir: path.join(cacheHome, "elixirlumin") };
}

export class AgentBuildError extends Error {
  override readonly name = "BeamError";
}

const resolved = new Map<string, string>();

/** The agent's ebin directory, building it into the user's cache first if nothing shipped fits. */
export function agentEbin(places: AgentBuildPlaces = defaultPlaces()): string {
  if (process.env.LUMIN_AGENT_EBIN) return process.env.LUMIN_AGENT_EBIN;
  const key = `${places.root}\0${places.cacheDir}`;
  let ebin = resolved.get(key);
  if (!ebin) resolved.set(key, (ebin = findOrBuild(places)));
  return ebin;
}

/** Which build `agentEbin` uses, in words (for `elixirlumin install`). */
export function describeAgentEbin(ebin: string, places: AgentBuildPlaces = defaultPlaces()): string {
  if (ebin.startsWith(path.join(places.cacheDir, path.sep))) return `compiled on this machine into ${ebin}`;
  const stamp = readStamp(ebin);
  if (stamp) return `the build shipped in the package (OTP ${stamp.otp}, Elixir ${stamp.elixir}): ${ebin}`;
  return ebin;
}

function findOrBuild(places: AgentBuildPlaces): string {
  const runtime = runtimeVersions();
  const agentDir = path.join(places.root, "elixir_agent");
  for (const env of ["prod", "dev", "test"]) {
    const ebin = path.join(agentDir, "_build", env, "lib", "elixir_agent", "ebin");
    if (existsSync(path.join(ebin, "lumin_agent.beam"))) return ebin;
  }
  const shipped = path.join(agentDir, "ebin");
  const stamp = readStamp(shipped);
  if (stamp && runtime.otp >= stamp.otp && majorMinor(runtime.elixir) === majorMinor(stamp.elixir)) return shipped;

  const target = path.join(places.cacheDir, `${packageVersion(places.root)}-${sourcesHash(agentDir)}`, `otp${runtime.otp}-elixir${runtime.elixir}`, "ebin");
  if (!existsSync(path.join(target, "lumin_agent.beam"))) compileAgent(agentDir, target, runtime);
  return target;
}

/**
 * Compile elixir_agent/ with Mix into `ebin` (its sources may be read-only: Mix writes only to MIX_BUILD_PATH).
 * The build goes to a private folder first and is renamed into place, so two kernels starting at once never
 * see half a build; `build.json` records what compiled it.
 */
export function compileAgent(agentDir: string, ebin: string, runtime: Runtime = runtimeVersions()): void {
  mkdirSync(path.dirname(ebin), { recursive: true });
  const scratch = `${ebin}.building-${process.pid}-${randomBytes(3).toString("hex")}`;
  try {
    const r = spawnSync("mix", ["compile"], {
      cwd: agentDir,
      env: { ...process.env, MIX_ENV: "prod", MIX_BUILD_PATH: scratch },
      encoding: "utf8",
      timeout: 300_000,
    });
    if (r.status !== 0) {
      const said = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
      throw new AgentBuildError(`Compiling the Elixir agent (mix compile in ${agentDir}) failed${r.error ? `: ${r.error.message}` : ""}:\n${said}`);
    }
    const built = path.join(scratch, "lib", "elixir_agent", "ebin");
    writeFileSync(path.join(built, BUILD_STAMP), `${JSON.stringify({ otp: runtime.otp, elixir: runtime.elixir })}\n`);
    try {
      renameSync(built, ebin);
    } catch (e) {
      // Another kernel finished the same build first: theirs is as good.
      if (!existsSync(path.join(ebin, "lumin_agent.beam"))) throw e;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function readStamp(ebin: string): Runtime | undefined {
  try {
    const stamp = JSON.parse(readFileSync(path.join(ebin, BUILD_STAMP), "utf8")) as Runtime;
    return typeof stamp.otp === "number" && typeof stamp.elixir === "string" ? stamp : undefined;
  } catch {
    return undefined;
  }
}

const majorMinor = (version: string) => version.split(".").slice(0, 2).join(".");

function packageVersion(root: string): string {
  try {
    return String(JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).version);
  } catch {
    return "unknown";
  }
}

/** A short hash of the agent's sources (mix.exs, lib/, src/). */
function sourcesHash(agentDir: string): string {
  const hash = createHash("sha256");
  const walk = (rel: string) => {
    const abs = path.join(agentDir, rel);
    if (statSync(abs).isDirectory()) for (const name of readdirSync(abs).sort()) walk(path.join(rel, name));
    else hash.update(`${rel}\0`).update(readFileSync(abs)).update("\0");
  };
  for (const part of ["mix.exs", "lib", "src"]) if (existsSync(path.join(agentDir, part))) walk(part);
  return hash.digest("hex").slice(0, 12);
}

const INSTALL_HINT =
  "Install them (on Debian/Ubuntu: sudo apt-get install erlang-nox erlang-dev elixir; elsewhere: https://elixir-lang.org/install.html), " +
  "make sure `erl` and `elixir` are on the PATH Jupyter starts the kernel with, then restart the kernel.";

let runtime: Runtime | undefined;

/**
 * This machine's OTP release and Elixir version. Read from the installed files where they are where Erlang
 * and Elixir put them (no VM start); otherwise asked of `elixir` itself (about half a second).
 */
export function runtimeVersions(): Runtime {
  if (runtime) return runtime;
  const elixir = onPath("elixir");
  const erl = onPath("erl");
  if (!elixir || !erl) {
    throw new AgentBuildError(`ElixirLumin needs Erlang/OTP ${MIN_OTP}+ and Elixir ${MIN_ELIXIR.join(".")}+ for its BEAM features, and ${!erl && !elixir ? "neither `erl` nor `elixir`" : `\`${!erl ? "erl" : "elixir"}\``} is on the PATH. ${INSTALL_HINT}`);
  }
  const found = fromInstalledFiles(erl, elixir) ?? askElixir();
  if (found.otp < MIN_OTP || compareVersions(found.elixir, MIN_ELIXIR) < 0) {
    throw new AgentBuildError(`ElixirLumin needs Erlang/OTP ${MIN_OTP}+ and Elixir ${MIN_ELIXIR.join(".")}+; this machine has OTP ${found.otp} and Elixir ${found.elixir} (${elixir}). ${INSTALL_HINT}`);
  }
  runtime = found;
  return found;
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function fromInstalledFiles(erl: string, elixir: string): Runtime | undefined {
  try {
    const erlRoot = path.dirname(path.dirname(realpathSync(erl)));
    const releases = readdirSync(path.join(erlRoot, "releases")).filter((d) => /^\d+$/.test(d)).map(Number);
    const app = readFileSync(path.join(path.dirname(path.dirname(realpathSync(elixir))), "lib", "elixir", "ebin", "elixir.app"), "utf8");
    const vsn = /\{vsn,\s*"([^"]+)"\}/.exec(app)?.[1];
    if (releases.length !== 1 || !vsn) return undefined;
    return { otp: releases[0], elixir: vsn };
  } catch {
    return undefined;
  }
}

function askElixir(): Runtime {
  const r = spawnSync("elixir", ["-e", 'IO.write([System.otp_release(), " ", System.version()])'], { encoding: "utf8", timeout: 60_000 });
  const m = /^(\d+) (\S+)$/.exec((r.stdout ?? "").trim());
  if (r.status !== 0 || !m) {
    throw new AgentBuildError(`\`elixir\` did not start (${r.error?.message ?? `${r.stderr ?? ""}`.trim().split("\n").slice(-3).join(" / ")}). ${INSTALL_HINT}`);
  }
  return { otp: Number(m[1]), elixir: m[2] };
}

function compareVersions(version: string, min: [number, number]): number {
  const [major, minor] = version.split(".").map((n) => parseInt(n, 10));
  return major !== min[0] ? major - min[0] : minor - min[1];
}

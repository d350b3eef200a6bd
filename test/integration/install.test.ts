/**
 * The package as a user installs it, the way Jupyter kernels on npm are installed:
 *
 *   npm pack                                   of a clean copy of the sources (prepack builds dist/, the
 *                                              danfo.js bundle and the agent's ebin)
 *   npm install -g --prefix PREFIX TARBALL     nothing from this checkout: no lockfile, no overrides, no
 *                                              node_modules — npm resolves every dependency from the registry
 *   (PREFIX made read-only)
 *   PREFIX/bin/elixirlumin install --prefix SPEC
 *   a notebook of the user's own, in a folder of its own outside the repository, run by nbconvert
 *
 * and the two ways the agent's build can go wrong for a user: no Erlang/Elixir on the PATH, and a machine
 * whose OTP/Elixir the shipped build does not fit (compiled into the user's cache, sources read-only).
 */
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/jupyter";
import { joinText, type Cell, type Output } from "../support/nbconvert";

const textOf = (outputs: Output[]) => outputs.map((o) => joinText(o.text) + joinText(o.data?.["text/plain"]) + joinText(o.evalue)).join("\n");

const tmp = mkdtempSync(path.join(os.tmpdir(), "lumin-install-"));
const PREFIX = path.join(tmp, "prefix");
const PACKAGE = path.join(PREFIX, "lib", "node_modules", "elixirlumin");
const SPEC = path.join(tmp, "spec");
const HOME = path.join(tmp, "home");

/**
 * The environment of a user's shell: none of the variables `npm test` sets (npm_*, node_modules/.bin on the
 * PATH), no NODE_PATH, and a home of its own (the agent's cache, Jupyter's and the kernel's files).
 */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("npm_") && k !== "NODE_PATH" && k !== "INIT_CWD") env[k] = v;
  env.PATH = (env.PATH ?? "").split(path.delimiter).filter((d) => !d.includes("node_modules")).join(path.delimiter);
  return { ...env, HOME, XDG_CACHE_HOME: path.join(HOME, ".cache"), JUPYTER_DATA_DIR: path.join(HOME, "jupyter-data"), JUPYTER_RUNTIME_DIR: path.join(HOME, "jupyter-runtime"), ...extra };
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd ?? tmp, env: opts.env ?? userEnv(), timeout: opts.timeout ?? 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * A command run with `dir` read-only. Permission bits alone do not stop root, so as root the command runs in
 * a private mount namespace where `dir` is bind-mounted read-only over itself.
 */
function readOnly(dir: string, cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  return ["/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", '/bin/mount --bind -o ro "$0" "$0" && exec "$@"', dir, cmd, ...args]];
}

/** A copy of what the repository holds (tracked and new files, not what .gitignore leaves out). */
function copySources(to: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!existsSync(from) || !statSync(from).isFile()) continue; // deleted in the work tree
    mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    cpSync(from, path.join(to, f));
  }
  // Only the build reads these (tsc, esbuild, danfojs-node's sources); the tarball holds no node_modules.
  symlinkSync(path.join(ROOT, "node_modules"), path.join(to, "node_modules"));
}

function notebook(file: string, sources: string[]): void {
  const cells = sources.map((source, i) => ({ cell_type: "code", id: `cell-${i}`, execution_count: null, metadata: {}, outputs: [], source }));
  const metadata = { kernelspec: { display_name: "ElixirLumin (TypeScript)", language: "typescript", name: "elixirlumin" } };
  writeFileSync(file, JSON.stringify({ cells, metadata, nbformat: 4, nbformat_minor: 5 }, null, 1));
}

/** Run a notebook with nbconvert against the installed kernelspec; its cells with their outputs. */
async function execute(file: string, env: Record<string, string>, prefixReadOnly = true): Promise<Cell[]> {
  const args = ["nbconvert", "--to", "notebook", "--execute", "--allow-errors", "--ExecutePreprocessor.kernel_name=elixirlumin", "--ExecutePreprocessor.timeout=120", "--output", "executed.ipynb", file];
  const [cmd, argv] = prefixReadOnly ? readOnly(PREFIX, "/usr/bin/jupyter", args) : ["/usr/bin/jupyter", args];
  await run(cmd, argv, { cwd: path.dirname(file), env: { ...env, JUPYTER_PATH: path.join(SPEC, "share", "jupyter") }, timeout: 480_000 });
  return JSON.parse(readFileSync(path.join(path.dirname(file), "executed.ipynb"), "utf8")).cells as Cell[];
}

function outputsOf(cells: Cell[], marker: string): Output[] {
  const cell = cells.find((c) => joinText(c.source).includes(marker));
  if (!cell) throw new Error(`no cell contains ${marker}`);
  return cell.outputs ?? [];
}

/** The text/plain of a cell's result. */
const resultOf = (cells: Cell[], marker: string) => textOf(outputsOf(cells, marker).filter((o) => o.output_type === "execute_result"));

let tarball = "";
let installOutput = "";

beforeAll(async () => {
  mkdirSync(HOME, { recursive: true });
  const src = path.join(tmp, "src");
  copySources(src);
  const packed = await run("npm", ["pack", "--pack-destination", tmp], { cwd: src, env: { ...userEnv(), HOME: os.homedir() } });
  tarball = path.join(tmp, packed.stdout.trim().split("\n").pop()!);
  rmSync(src, { recursive: true, force: true });

  const started = Date.now();
  // From the temporary folder, with the user's npm configuration (its cache) but nothing of this checkout.
  await run("npm", ["install", "--global", "--prefix", PREFIX, tarball, "--no-audit", "--no-fund"], { env: { ...userEnv(), HOME: os.homedir() } });
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`install test: tarball ${(statSync(tarball).size / 1e6).toFixed(2)} MB, npm install -g took ${seconds.toFixed(1)} s\n`);

  // Read-only from here on, for whoever runs the test (root is kept out by the mount namespace in readOnly).
  execFileSync("chmod", ["-R", "a-w", PREFIX]);
  const [cmd, argv] = readOnly(PREFIX, path.join(PREFIX, "bin", "elixirlumin"), ["install", "--prefix", SPEC]);
  installOutput = (await run(cmd, argv)).stdout;
}, 900_000);

afterAll(() => {
  execFileSync("chmod", ["-R", "u+w", tmp]);
  rmSync(tmp, { recursive: true, force: true });
});

describe("npm install -g of the packed tarball", () => {
  it("ships the built kernel, danfo.js bundled, and the agent compiled, and installs only registry packages", () => {
    const listed = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    expect(listed).toContain("package/dist/kernel/main.js");
    expect(listed).toContain("package/dist/vendor/danfojs-node.js");
    expect(listed).toContain("package/elixir_agent/ebin/lumin_agent.beam");
    expect(listed).toContain("package/elixir_agent/ebin/Elixir.LuminBridge.beam");
    expect(listed.some((f) => f.includes("node_modules") || f.startsWith("package/test/"))).toBe(false);

    // The packages whose install reaches outside the registry are not in the tree at all ...
    const modules = path.join(PACKAGE, "node_modules");
    for (const absent of ["danfojs-node", "xlsx", path.join("@tensorflow", "tfjs-node")]) expect(existsSync(path.join(modules, absent))).toBe(false);
    // ... and arquero shares the Arrow library the package pins (2.7 needs a package the registry lacks).
    expect(JSON.parse(readFileSync(path.join(modules, "@uwdata", "flechette", "package.json"), "utf8")).version).toMatch(/^2\.6\./);
    expect(existsSync(path.join(modules, "arquero", "node_modules", "@uwdata", "flechette"))).toBe(false);
  });

  it("registers a kernelspec that runs the installed package, using the agent build it ships", () => {
    const spec = JSON.parse(readFileSync(path.join(SPEC, "share", "jupyter", "kernels", "elixirlumin", "kernel.json"), "utf8"));
    for (const logo of ["logo-32x32.png", "logo-64x64.png"]) {
      expect(readFileSync(path.join(SPEC, "share", "jupyter", "kernels", "elixirlumin", logo)).subarray(1, 4).toString(), logo).toBe("PNG");
    }
    expect(spec.argv).toEqual([process.execPath, path.join(PACKAGE, "bin", "elixirlumin.js"), "kernel", "{connection_file}"]);
    expect(installOutput).toContain(`Installed the ElixirLumin kernelspec in ${path.join(SPEC, "share", "jupyter", "kernels", "elixirlumin")}`);
    // Packed and run on this machine's OTP and Elixir: the shipped build fits, nothing is compiled.
    expect(installOutput).toContain(`The Elixir agent: the build shipped in the package`);
    expect(installOutput).toContain(path.join(PACKAGE, "elixir_agent", "ebin"));
  });

  it("runs a user's notebook in a folder of their own: TypeScript with the cell scope, a node started, a call probe, its rows in Arquero and danfo.js, a chart", async () => {
    const work = path.join(tmp, "work");
    mkdirSync(work);
    notebook(path.join(work, "mine.ipynb"), [
      "process.argv[1]",
      `Object.keys((require("node:module") as any)._cache).filter((f) => !f.startsWith(${JSON.stringify(PACKAGE + path.sep)})).join("\\n") || "every module from the installed package"`,
      'const t = aq.table({ n: [1, 2, 3] }).derive({ twice: (d: any) => d.n * 2 });\ndisplay(t);\nt.array("twice").join(",")',
      "%node start",
      "%%elixir\ndefmodule Greeter do\n  def hello(n), do: \"hi #{n}\"\nend\nGreeter.hello(0)",
      "%probe Greeter.hello/1 --as hellos",
      "%%elixir\nfor i <- 1..25, do: Greeter.hello(i)",
      "%disarm hellos",
      "%events hellos --wait=5s",
      "const calls = %events hellos\ncalls.numRows()",
      'const df = toDanfo(calls.select("duration_us", "result")) as any;\ndf.shape.join("x")',
      "latencyChart(calls)",
    ]);
    const cells = await execute(path.join(work, "mine.ipynb"), userEnv());
    const errors = cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue} in ${joinText(c.source)}`));
    expect(errors).toEqual([]);
    // The kernel is the installed package, and nothing it loaded comes from anywhere else (this checkout).
    expect(resultOf(cells, "process.argv[1]")).toBe(`'${path.join(PACKAGE, "bin", "elixirlumin.js")}'`);
    expect(resultOf(cells, "_cache")).toBe("'every module from the installed package'");
    // The cell scope is there: Arquero, display, the magics bound in TypeScript, toDanfo, the charts.
    expect(cells.flatMap((c) => c.outputs ?? []).filter((o) => joinText(o.text).includes("did not load"))).toEqual([]);
    const shown = outputsOf(cells, "aq.table").find((o) => o.output_type === "display_data");
    expect(joinText(shown?.data?.["text/plain"])).toMatch(/twice[\s\S]*3 rows/);
    expect(resultOf(cells, "aq.table")).toBe("'2,4,6'");
    expect(textOf(outputsOf(cells, "%node start"))).toMatch(/Attached to lumin_\w+@\S+ \(started by this kernel\)/);
    expect(textOf(outputsOf(cells, "Greeter.hello(0)"))).toContain('"hi 0"');
    expect(textOf(outputsOf(cells, "for i <- 1..25"))).toContain('"hi 25"');
    const events = textOf(outputsOf(cells, "%events hellos"));
    expect(events).toMatch(/25 seen, 0 dropped/);
    expect(events).toContain('"hi 1"');
    expect(resultOf(cells, "const calls = %events")).toBe("25");
    expect(resultOf(cells, "toDanfo(calls")).toBe("'25x2'");
    expect(outputsOf(cells, "latencyChart(calls)").some((o) => o.data?.["application/vnd.vegalite.v5+json"])).toBe(true);
    // No agent build was compiled into the user's cache (a folder there; the cache also keeps other files).
    const cache = path.join(HOME, ".cache", "elixirlumin");
    const builds = existsSync(cache) ? readdirSync(cache).filter((n) => statSync(path.join(cache, n)).isDirectory()) : [];
    expect(builds).toEqual([]);
  }, 600_000);

  it("says what to install when Erlang and Elixir are not on the PATH, at install and at the first %node", async () => {
    const bin = path.join(tmp, "node-only");
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, "node"));
    const env = userEnv({ PATH: bin });
    const said = await run(path.join(PREFIX, "bin", "elixirlumin"), ["install", "--prefix", path.join(tmp, "spec-no-elixir")], { env });
    expect(said.stdout).toMatch(/Note: ElixirLumin needs Erlang\/OTP 25\+ and Elixir 1\.14\+ .* neither `erl` nor `elixir` is on the PATH\. Install them \(on Debian\/Ubuntu: sudo apt-get install erlang-nox erlang-dev elixir/);

    const work = path.join(tmp, "work-no-elixir");
    mkdirSync(work);
    notebook(path.join(work, "mine.ipynb"), ["%node start", "%lsmagic"]);
    const cells = await execute(path.join(work, "mine.ipynb"), env);
    const [error] = outputsOf(cells, "%node start").filter((o) => o.output_type === "error");
    expect(error?.evalue).toMatch(/needs Erlang\/OTP 25\+ and Elixir 1\.14\+ .*apt-get install erlang-nox erlang-dev elixir/);
    // The kernel is still there for the next cell.
    expect(textOf(outputsOf(cells, "%lsmagic"))).toContain("%node");
  }, 600_000);

  it("compiles the agent once into the user's cache when the shipped build does not fit, with its sources read-only", async () => {
    // The installed package's sources without its shipped build: what a machine with another Elixir sees.
    const pkg = path.join(tmp, "pkg-without-build");
    for (const part of ["package.json", "elixir_agent/mix.exs", "elixir_agent/lib", "elixir_agent/src"]) cpSync(path.join(PACKAGE, part), path.join(pkg, part), { recursive: true });
    const cache = path.join(tmp, "cache");
    const resolve = `const b = require(${JSON.stringify(path.join(PACKAGE, "dist", "kernel", "beam", "agentBuild.js"))});` + `process.stdout.write(b.agentEbin({ root: ${JSON.stringify(pkg)}, cacheDir: ${JSON.stringify(cache)} }))`;
    const [cmd, argv] = readOnly(pkg, process.execPath, ["-e", resolve]);
    execFileSync("chmod", ["-R", "a-w", pkg]);
    const ebin = (await run(cmd, argv)).stdout;
    const version = JSON.parse(readFileSync(path.join(PACKAGE, "package.json"), "utf8")).version;
    expect(ebin.startsWith(path.join(cache, `${version}-`))).toBe(true);
    expect(ebin).toMatch(/otp\d+-elixir[\d.]+\/ebin$/);
    expect(readdirSync(pkg + "/elixir_agent").sort()).toEqual(["lib", "mix.exs", "src"]);
    // The build loads: the bridge (Elixir) and the agent (Erlang) modules.
    const loaded = (await run("elixir", ["-pa", ebin, "-e", "IO.write(inspect({Code.ensure_loaded?(LuminBridge), Code.ensure_loaded?(:lumin_agent)}))"])).stdout;
    expect(loaded).toBe("{true, true}");
    // A second kernel finds it and compiles nothing.
    const again = (await run(process.execPath, ["-e", resolve])).stdout;
    expect(again).toBe(ebin);
  }, 300_000);
});

/**
 * What the BEAM benchmarks share: this kernel started through the ZeroMQ client, a local node started by it
 * (`%node start NAME`, a unique name), and the benchmark-only module bench/erl/lumin_bench.erl compiled with
 * erlc into a temporary directory and loaded on that node. `stop()` shuts the kernel down (which stops the
 * node it owns) and kills the node by its OS pid if it is somehow still alive.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JupyterKernel, ROOT } from "./jupyterClient";
import { note, sleep } from "./stats";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** OS pids of the nodes started for the benchmark, for the exit handler. */
const nodePids = new Set<number>();

/** Kill every benchmark node still alive (exit handler; the kernels' process groups go separately). */
export function killAllNodes(): void {
  for (const pid of nodePids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  nodePids.clear();
}

export class BeamBench {
  private cells = 0;
  /** The node's OS pid, to make sure it is gone after the kernel. */
  nodeOsPid = 0;

  private constructor(
    readonly k: JupyterKernel,
    readonly node: string,
    private readonly ebin: string,
    private readonly tmp: string,
  ) {}

  static async start(): Promise<BeamBench> {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "lumin-bench-beam-"));
    const ebin = path.join(tmp, "ebin");
    execFileSync("mkdir", ["-p", ebin]);
    execFileSync("erlc", ["-o", ebin, path.join(ROOT, "bench", "erl", "lumin_bench.erl")], { stdio: "pipe" });
    const k = await JupyterKernel.spawn("ours", [process.execPath, path.join(ROOT, "bin", "elixirlumin.js"), "kernel", "{connection_file}"], {
      env: { ELIXIRLUMIN_HISTORY_FILE: path.join(tmp, "history.jsonl") },
    });
    try {
      await k.request("shell", "kernel_info_request", {}, 30_000);
      await k.ready();
      const name = `lbench_${process.pid}_${randomBytes(3).toString("hex")}`;
      note(`beam: %node start ${name}`);
      const started = await k.run(`%node start ${name}`, 180_000);
      const node = /Attached to (\S+)/.exec(started.stdout)?.[1] ?? name;
      const b = new BeamBench(k, node, ebin, tmp);
      b.nodeOsPid = await b.erl<number>(`code:add_patha(${JSON.stringify(ebin)}), {module, lumin_bench} = code:ensure_loaded(lumin_bench), lumin_bench:os_pid().`);
      nodePids.add(b.nodeOsPid);
      return b;
    } catch (e) {
      await k.shutdown();
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Evaluate Erlang on the node (through `%erlang`) and return the value as plain JSON. */
  erl<T = any>(expr: string, timeoutMs = 180_000): Promise<T> {
    const v = `benchErl${++this.cells}`;
    return this.k.json<T>(`const ${v} = %erlang ${expr}\nconsole.log(JSON.stringify(${v}))`, timeoutMs);
  }

  /** Run a TypeScript cell whose last stdout line is JSON. */
  json<T = any>(code: string, timeoutMs = 180_000): Promise<T> {
    return this.k.json<T>(code, timeoutMs);
  }

  async stop(): Promise<void> {
    try {
      await this.k.shutdown(15_000);
    } finally {
      if (this.nodeOsPid > 0) {
        for (let i = 0; i < 50 && alive(this.nodeOsPid); i++) await sleep(100);
        if (alive(this.nodeOsPid)) {
          note(`beam: node ${this.node} (OS pid ${this.nodeOsPid}) outlived its kernel; killing it`);
          try {
            process.kill(this.nodeOsPid, "SIGKILL");
          } catch {
            /* gone */
          }
        }
        nodePids.delete(this.nodeOsPid);
      }
      rmSync(this.tmp, { recursive: true, force: true });
    }
  }
}

/**
 * A TypeScript cell prelude: a `gc()` (V8's, exposed at run time) and `mem()`, the kernel's heap + external
 * bytes after two full collections. Block-scoped, so each cell can include it.
 */
export const MEMORY_PRELUDE = `const v8m = require("node:v8"); v8m.setFlagsFromString("--expose-gc");
const gc: () => void = require("node:vm").runInNewContext("gc");
const mem = () => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.external; };`;

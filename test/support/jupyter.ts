/**
 * The tests' Jupyter client: Debian's jupyter_client (a real client, not a mock), run by kernel_driver.py and
 * driven over JSON lines. The kernelspec is installed into a temporary JUPYTER_PATH and the history file is
 * temporary, so tests never touch the user's own. The kernel runs in a folder of its own outside the repository
 * (as a user's notebook does), so nothing it needs may come from the project's layout.
 *
 *   const k = await startKernel();
 *   const r = await k.execute("1 + 1");          // r.messages: iopub for the cell; r.reply: execute_reply
 *   texts(r, "execute_result")                   // the text/plain of each message of that type
 *   await k.request("kernel_info_request", {}, "control");
 *   await k.shutdown();
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

export const ROOT = path.resolve(__dirname, "..", "..");
export const PYTHON = "/usr/bin/python3";

export interface Message {
  msg_type: string;
  content: Record<string, any>;
}

export interface ExecuteResult {
  messages: Message[];
  reply: { msg_type: string; content: Record<string, any>; metadata: Record<string, any> };
  prompts: { prompt: string; password: boolean }[];
}

export interface ExecuteOptions {
  inputs?: string[];
  stopOnError?: boolean;
  interruptAfter?: number;
  timeout?: number;
  userExpressions?: Record<string, string>;
}

/** A directory with the kernelspec installed, for JUPYTER_PATH. */
export function kernelspecDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-spec-"));
  execFileSync(process.execPath, [path.join(ROOT, "bin", "elixirlumin.js"), "install", "--prefix", dir]);
  return dir;
}

/**
 * A fresh folder outside the repository for a kernel's working directory, as a user's own notebook folder is.
 * With `notebooks: true` it holds a copy of the project's notebooks/ (their sample apps beside them), so a
 * shipped notebook runs from there with its relative paths intact.
 */
export function notebookFolder(options: { notebooks?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-notebook-"));
  if (options.notebooks) {
    cpSync(path.join(ROOT, "notebooks"), dir, {
      recursive: true,
      filter: (src) => !/[\\/](_build|deps|\.ipynb_checkpoints)$/.test(src) && !/\.executed\.ipynb$/.test(src),
    });
  }
  return dir;
}

export class KernelClient {
  private readonly lines: AsyncIterator<string>;
  private readonly stderrChunks: Buffer[] = [];
  pid = 0;

  constructor(
    private readonly driver: ChildProcessWithoutNullStreams,
    readonly tmp: string,
    /** The kernel's working directory (removed at shutdown when the client made it). */
    readonly cwd: string,
    private readonly ownsCwd: boolean,
  ) {
    this.lines = createInterface({ input: driver.stdout })[Symbol.asyncIterator]();
    driver.stderr.on("data", (d: Buffer) => {
      this.stderrChunks.push(d);
      if (process.env.LUMIN_TEST_VERBOSE) process.stderr.write(d);
    });
  }

  /** What the kernel (and its bridge) wrote to stderr, its log, so far: the client's driver passes it on. */
  stderr(): string {
    return Buffer.concat(this.stderrChunks).toString("utf8");
  }

  async send<T = Record<string, any>>(cmd: Record<string, unknown>): Promise<T> {
    this.driver.stdin.write(`${JSON.stringify(cmd)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error("the Jupyter client driver exited");
    const r = JSON.parse(value);
    if (!r.ok) throw new Error(`jupyter_client: ${r.error}`);
    return r as T;
  }

  execute(code: string, o: ExecuteOptions = {}): Promise<ExecuteResult> {
    return this.send({ op: "execute", code, inputs: o.inputs, stop_on_error: o.stopOnError ?? true, interrupt_after: o.interruptAfter, timeout: o.timeout ?? 60, user_expressions: o.userExpressions ?? {} });
  }

  /** Send a request without waiting for it to finish (the next execute's results follow in order). */
  request(type: string, content: Record<string, unknown> = {}, channel: "shell" | "control" = "shell", collect = false) {
    return this.send<{ reply: { msg_type: string; content: Record<string, any> }; messages: Message[] }>({ op: "request", type, content, channel, collect });
  }

  /** Comm messages seen on iopub since the last call (waiting `wait` seconds for more). */
  comms(wait = 0) {
    return this.send<{ messages: Message[] }>({ op: "comms", wait });
  }

  badSignature() {
    return this.send<{ answered: boolean }>({ op: "bad_signature" });
  }

  /** Send a correctly signed message whose parts are exactly these (null and wrong types included). */
  raw(parts: { header: unknown; parent_header?: unknown; metadata?: unknown; content?: unknown }, channel: "shell" | "control" = "shell", wait = 2) {
    return this.send<{ replies: { msg_type: string; content: Record<string, any>; parent_header: Record<string, any> }[]; iopub: { msg_type: string; parent_header: Record<string, any> }[] }>({
      op: "raw",
      channel,
      wait,
      header: parts.header,
      parent_header: "parent_header" in parts ? parts.parent_header : {},
      metadata: "metadata" in parts ? parts.metadata : {},
      content: "content" in parts ? parts.content : {},
    });
  }

  async restart(): Promise<void> {
    this.pid = (await this.send<{ pid: number }>({ op: "restart" })).pid;
  }

  async alive(): Promise<boolean> {
    return (await this.send<{ alive: boolean }>({ op: "alive" })).alive;
  }

  /** Kill the Jupyter client itself (the kernel's parent) as a crash would: no shutdown_request is sent. */
  killClient(): void {
    this.driver.kill("SIGKILL");
    rmSync(this.tmp, { recursive: true, force: true });
    if (this.ownsCwd) rmSync(this.cwd, { recursive: true, force: true });
  }

  async shutdown(): Promise<void> {
    try {
      await this.send({ op: "shutdown" });
    } finally {
      this.driver.stdin.end();
      this.driver.kill();
      rmSync(this.tmp, { recursive: true, force: true });
      if (this.ownsCwd) rmSync(this.cwd, { recursive: true, force: true });
    }
  }
}

/** Starts a kernel through jupyter_client; its working directory is `cwd`, or a fresh folder outside the repository. */
export async function startKernel(options: { cwd?: string; env?: Record<string, string> } = {}): Promise<KernelClient> {
  const tmp = kernelspecDir();
  const cwd = options.cwd ?? notebookFolder();
  const driver = spawn(PYTHON, ["-u", path.join(__dirname, "kernel_driver.py")], {
    env: {
      ...process.env,
      JUPYTER_PATH: path.join(tmp, "share", "jupyter"),
      JUPYTER_DATA_DIR: path.join(tmp, "data"),
      JUPYTER_RUNTIME_DIR: path.join(tmp, "runtime"),
      ELIXIRLUMIN_HISTORY_FILE: path.join(tmp, "history.jsonl"),
      ...options.env,
    },
  });
  const client = new KernelClient(driver, tmp, cwd, options.cwd === undefined);
  client.pid = (await client.send<{ pid: number }>({ op: "start", cwd })).pid;
  return client;
}

/** The text/plain (or a named MIME type) of every message of a type. */
export function texts(r: ExecuteResult, type: string, mime = "text/plain"): string[] {
  return r.messages.filter((m) => m.msg_type === type).map((m) => (type === "stream" ? m.content.text : m.content.data?.[mime]));
}

export function ofType(r: ExecuteResult, type: string): Message[] {
  return r.messages.filter((m) => m.msg_type === type);
}

export const stdout = (r: ExecuteResult): string => r.messages.filter((m) => m.msg_type === "stream" && m.content.name === "stdout").map((m) => m.content.text).join("");

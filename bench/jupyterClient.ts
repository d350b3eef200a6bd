/**
 * A minimal Jupyter client on the `zeromq` package, for the benchmarks: it writes a connection file, spawns a
 * kernel exactly as Jupyter does (its command line with the file's path), talks the wire protocol signed with
 * HMAC-SHA256 (kernel/wire/frames.ts), and times replies with performance.now() in this process — no Python
 * client's polling in between, so a reply is timed when its frames arrive.
 *
 *   const k = await JupyterKernel.spawn("ours", [process.execPath, "bin/elixirlumin.js", "kernel", "{connection_file}"]);
 *   const info = await k.request("shell", "kernel_info_request");   // info.ms: from send to reply
 *   const r = await k.execute("1 + 1");                               // r.ms: until execute_reply and idle
 *   await k.shutdown();
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import * as zmq from "zeromq";
import { decodeFrames, encodeFrames, Signer } from "../kernel/wire/frames";
import type { JupyterMessage } from "../kernel/wire/message";
import { nowMs, sleep } from "./stats";

export const ROOT = path.resolve(__dirname, "..", "..");

/** Every kernel spawned by this process, so an exit handler can stop what is left. */
const live = new Set<JupyterKernel>();

export interface Reply {
  msg: JupyterMessage;
  /** ms from sending the request to receiving its reply. */
  ms: number;
}

export interface ExecuteResult {
  reply: JupyterMessage;
  iopub: JupyterMessage[];
  /** ms from sending execute_request until both execute_reply and the iopub `idle` for it arrived. */
  ms: number;
  replyMs: number;
  status: string;
  stdout: string;
  error?: { ename: string; evalue: string };
}

interface Pending {
  sentAt: number;
  reply?: JupyterMessage;
  replyAt?: number;
  idleAt?: number;
  iopub: JupyterMessage[];
  wake: () => void;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export class JupyterKernel {
  readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly shell: zmq.Dealer;
  private readonly control: zmq.Dealer;
  private readonly iopub: zmq.Subscriber;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /** An iopub message has arrived: the subscription is live (PUB drops what is sent before that). */
  private iopubSeen = false;
  exited = false;
  exitCode: number | null = null;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
    readonly spawnedAt: number,
    readonly dir: string,
    readonly logFile: string,
    key: string,
    sockets: { shell: zmq.Dealer; control: zmq.Dealer; iopub: zmq.Subscriber },
  ) {
    this.signer = new Signer(key);
    this.shell = sockets.shell;
    this.control = sockets.control;
    this.iopub = sockets.iopub;
    child.on("exit", (code) => {
      this.exited = true;
      this.exitCode = code;
    });
    void this.pump(this.shell, "reply");
    void this.pump(this.control, "reply");
    void this.pump(this.iopub, "iopub");
  }

  /**
   * Spawn a kernel: `argv` is its command line, with "{connection_file}" where the file's path goes. The
   * sockets connect (and retry every 5 ms) before the kernel is spawned, so the first request goes out the
   * moment the kernel binds; `spawnedAt` is taken just before spawn().
   */
  static async spawn(label: string, argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<JupyterKernel> {
    const dir = mkdtempSync(path.join(os.tmpdir(), `lumin-bench-${label}-`));
    const [shell, control, stdin, iopub, hb] = await freePorts(5);
    const key = randomBytes(16).toString("hex");
    const file = path.join(dir, "kernel.json");
    writeFileSync(file, JSON.stringify({ transport: "tcp", ip: "127.0.0.1", key, signature_scheme: "hmac-sha256", shell_port: shell, control_port: control, stdin_port: stdin, iopub_port: iopub, hb_port: hb, kernel_name: label }));
    const opts = { reconnectInterval: 5, linger: 0 } as const;
    const sockets = {
      shell: new zmq.Dealer({ ...opts, routingId: `bench-shell-${randomBytes(4).toString("hex")}` }),
      control: new zmq.Dealer({ ...opts, routingId: `bench-ctrl-${randomBytes(4).toString("hex")}` }),
      iopub: new zmq.Subscriber(opts),
    };
    sockets.iopub.subscribe();
    sockets.shell.connect(`tcp://127.0.0.1:${shell}`);
    sockets.control.connect(`tcp://127.0.0.1:${control}`);
    sockets.iopub.connect(`tcp://127.0.0.1:${iopub}`);
    const logFile = path.join(dir, "kernel.log");
    const log = createWriteStream(logFile);
    const args = argv.map((a) => a.replace("{connection_file}", file));
    const spawnedAt = nowMs();
    const child = spawn(args[0], args.slice(1), {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: on failure the kernel and whatever it spawned go together
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const k = new JupyterKernel(label, child, spawnedAt, dir, logFile, key, sockets);
    live.add(k);
    return k;
  }

  private async pump(socket: zmq.Dealer | zmq.Subscriber, role: "reply" | "iopub"): Promise<void> {
    try {
      for await (const frames of socket) {
        const at = nowMs();
        if (role === "iopub") this.iopubSeen = true;
        let msg: JupyterMessage;
        try {
          msg = decodeFrames(frames as Buffer[], this.signer);
        } catch {
          continue;
        }
        const p = this.pending.get(String(msg.parent_header?.msg_id ?? ""));
        if (!p) continue;
        if (role === "reply") {
          p.reply = msg;
          p.replyAt = at;
        } else {
          p.iopub.push(msg);
          if (msg.header.msg_type === "status" && msg.content.execution_state === "idle") p.idleAt = at;
        }
        p.wake();
      }
    } catch {
      /* socket closed */
    }
  }

  private send(channel: "shell" | "control", type: string, content: Record<string, unknown>): { id: string; p: Pending } {
    const header = { msg_id: randomUUID(), session: this.session, username: "bench", date: new Date().toISOString(), msg_type: type, version: "5.3" };
    const p: Pending = { sentAt: 0, iopub: [], wake: () => undefined };
    this.pending.set(header.msg_id, p);
    const frames = encodeFrames({ identities: [], header, parent_header: {}, metadata: {}, content, buffers: [] }, this.signer);
    p.sentAt = nowMs();
    void (channel === "shell" ? this.shell : this.control).send(frames);
    return { id: header.msg_id, p };
  }

  private wait(id: string, p: Pending, done: (p: Pending) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const seen = `reply ${p.reply ? "received" : "not received"}; iopub for it: [${p.iopub.map((m) => m.header.msg_type).join(", ")}]`;
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms (${seen})${this.exited ? ` (the kernel exited with ${this.exitCode}; log: ${this.tail()})` : ""}`));
      }, timeoutMs);
      p.wake = () => {
        if (done(p)) {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve();
        }
      };
      p.wake();
    });
  }

  /** Send a request and resolve with its reply (and the ms from send to reply). */
  async request(channel: "shell" | "control", type: string, content: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Reply> {
    const { id, p } = this.send(channel, type, content);
    await this.wait(id, p, (q) => q.reply !== undefined, timeoutMs, `reply to ${type}`);
    return { msg: p.reply!, ms: p.replyAt! - p.sentAt };
  }

  /**
   * Make sure the iopub subscription is live before the first cell, as Jupyter clients do: a PUB socket drops
   * what it publishes before the subscriber's handshake, and a cell's `idle` lost that way would never come.
   * Sends kernel_info_request until an iopub message (its busy/idle) arrives. Not part of any timing.
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    const until = nowMs() + timeoutMs;
    while (!this.iopubSeen) {
      if (nowMs() > until) throw new Error(`${this.label}: no iopub message within ${timeoutMs} ms`);
      await this.request("shell", "kernel_info_request", {}, 10_000);
      const wait = nowMs() + 300;
      while (!this.iopubSeen && nowMs() < wait) await sleep(5);
    }
  }

  /** Run a cell; resolves once the execute_reply and the iopub `idle` for it have both arrived. */
  async execute(code: string, timeoutMs = 120_000): Promise<ExecuteResult> {
    const { id, p } = this.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    await this.wait(id, p, (q) => q.reply !== undefined && q.idleAt !== undefined, timeoutMs, `execute_reply and idle for ${JSON.stringify(code.slice(0, 60))}`);
    const stdout = p.iopub.filter((m) => m.header.msg_type === "stream" && m.content.name === "stdout").map((m) => String(m.content.text)).join("");
    const err = p.iopub.find((m) => m.header.msg_type === "error");
    return {
      reply: p.reply!,
      iopub: p.iopub,
      ms: Math.max(p.replyAt!, p.idleAt!) - p.sentAt,
      replyMs: p.replyAt! - p.sentAt,
      status: String(p.reply!.content.status),
      stdout,
      error: err ? { ename: String(err.content.ename), evalue: String(err.content.evalue) } : undefined,
    };
  }

  /** Run a cell that must succeed; throws with the kernel's error otherwise. */
  async run(code: string, timeoutMs = 120_000): Promise<ExecuteResult> {
    const r = await this.execute(code, timeoutMs);
    if (r.status !== "ok") {
      const e = r.error ?? { ename: String(r.reply.content.ename), evalue: String(r.reply.content.evalue) };
      throw new Error(`${this.label}: cell failed: ${e.ename}: ${e.evalue}\n--- cell ---\n${code.slice(0, 400)}`);
    }
    return r;
  }

  /** Run a cell whose last stdout line is JSON, and parse that line. */
  async json<T = any>(code: string, timeoutMs = 120_000): Promise<T> {
    const r = await this.run(code, timeoutMs);
    const last = r.stdout.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`${this.label}: expected a JSON line from the cell, got ${JSON.stringify(r.stdout.slice(-300))}`);
    }
  }

  tail(n = 1500): string {
    try {
      return readFileSync(this.logFile, "utf8").slice(-n);
    } catch {
      return "";
    }
  }

  /** shutdown_request on control; the kernel's process group is killed if it has not exited within `graceMs`. */
  async shutdown(graceMs = 8000): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.exited) {
        try {
          await this.request("control", "shutdown_request", { restart: false }, Math.min(graceMs, 5000));
        } catch {
          /* killed below */
        }
        const until = nowMs() + graceMs;
        while (!this.exited && nowMs() < until) await sleep(20);
      }
    } finally {
      this.kill();
    }
  }

  /** Kill what is left, now: the kernel's own process group (it was spawned detached, as its leader). */
  kill(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    if (this.child.pid) {
      try {
        process.kill(-this.child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kill every kernel still running (exit handler). */
export function killAllKernels(): void {
  for (const k of [...live]) k.kill();
}

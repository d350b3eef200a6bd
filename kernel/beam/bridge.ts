/**
 * The kernel's end of the bridge (kernel/beam/protocol.ts): it spawns elixir_agent/bin/lumin_bridge with
 * two private pipes (fd 3: requests to the bridge; fd 4: replies and events back), frames terms, matches
 * replies to requests, and emits events. The bridge starts on first use; if it dies, pending requests fail
 * with its last words and the next request starts a new one. Stopping closes fd 3: the bridge detaches from
 * every node and halts.
 *
 * The bridge's environment is the kernel's less every variable that holds a secret (by its name, or named in
 * `--cookie-env`): a cookie never sits in /proc/PID/environ of a process this kernel started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { Atom, decode, ErlMap, Tuple, type ErlTerm, encode } from "./etf";
import type { BridgeOp } from "./protocol";
import { FrameReader } from "./frameReader";
import { agentEbin } from "./agentBuild";

export const BRIDGE_SCRIPT = path.join(__dirname, "..", "..", "..", "elixir_agent", "bin", "lumin_bridge");

export class BridgeError extends Error {
  override readonly name = "BeamError";
}

interface Pending {
  resolve: (v: ErlTerm) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * What the session needs of a bridge: requests answered, events emitted. A live bridge (below) asks a node; a
 * recording tees one (kernel/recording/recordingBridge.ts); a replay answers from a recording with no node
 * (kernel/recording/replayBridge.ts).
 */
export interface BridgeLike extends EventEmitter<{ event: [type: string, payload: ErlTerm] }> {
  readonly running: boolean;
  request(op: BridgeOp, args: Record<string, unknown>, timeoutMs?: number): Promise<ErlTerm>;
  stop(timeoutMs?: number): Promise<void>;
  /** A replay's: resolves once it has sent everything that came before the next request or magic. */
  settled?(): Promise<void>;
}

export class Bridge extends EventEmitter<{ event: [type: string, payload: ErlTerm] }> implements BridgeLike {
  private child?: ChildProcess;
  private toBridge?: Writable;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private lastWords: string[] = [];

  get running(): boolean {
    return this.child !== undefined;
  }

  private start(): void {
    const env = { ...bridgeEnvironment(), LUMIN_AGENT_EBIN: agentEbin() };
    const child = spawn(BRIDGE_SCRIPT, [], { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"], env });
    this.child = child;
    this.toBridge = child.stdio[3] as Writable;
    this.toBridge.on("error", () => undefined);
    const keep = (d: Buffer) => {
      this.lastWords.push(...d.toString().split("\n").filter(Boolean));
      this.lastWords = this.lastWords.slice(-20);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const frames = new FrameReader((frame) => this.onFrame(frame));
    (child.stdio[4] as Readable).on("data", (chunk: Buffer) => frames.push(chunk));
    child.on("exit", (code, signal) => {
      const why = `the bridge node exited (${signal ?? `status ${code}`})${this.lastWords.length ? `: ${this.lastWords.slice(-5).join(" / ")}` : ""}`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new BridgeError(why));
      }
      this.pending.clear();
      this.child = undefined;
      this.toBridge = undefined;
      this.emit("event", "bridge_down", new ErlMap([[new Atom("reason"), Buffer.from(why)]]));
    });
  }

  private onFrame(frame: Uint8Array): void {
    const t = decode(frame);
    if (!(t instanceof Tuple)) return;
    const [tag, a, b, c] = t.elements;
    if (tag instanceof Atom && tag.name === "reply") {
      const p = this.pending.get(Number(a));
      if (!p) return;
      this.pending.delete(Number(a));
      clearTimeout(p.timer);
      if ((b as Atom).name === "ok") p.resolve(c);
      else {
        const msg = c instanceof ErlMap ? c.get("message") : undefined;
        p.reject(new BridgeError(msg instanceof Uint8Array ? Buffer.from(msg).toString("utf8") : "the bridge refused the request"));
      }
    } else if (tag instanceof Atom && tag.name === "event") {
      this.emit("event", (a as Atom).name, b);
    }
  }

  /** Send a request; resolves with the bridge's value, rejects with its error message. */
  request(op: BridgeOp, args: Record<string, unknown>, timeoutMs = 30_000): Promise<ErlTerm> {
    if (!this.child) {
      try {
        this.start();
      } catch (e) {
        return Promise.reject(new BridgeError((e as Error).message)); // no Erlang/Elixir, or the agent would not build
      }
    }
    const id = this.nextId++;
    const payload = encode(new Tuple([new Atom("request"), id, new Atom(op), withoutNulls(args) as never]));
    const frame = Buffer.allocUnsafe(4);
    frame.writeUInt32BE(payload.length);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BridgeError(`the bridge did not answer ${op} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.toBridge!.write(Buffer.concat([frame, payload]));
    });
  }

  /** Close the channel: the bridge detaches from every node and halts; killed if it takes too long. */
  async stop(timeoutMs = 4000): Promise<void> {
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve();
      }, timeoutMs);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.toBridge?.end();
    });
  }
}

/** Names of variables that hold secrets: never passed to the bridge, nor so to the nodes it starts. */
const SECRET_NAME = /COOKIE|SECRET|TOKEN|PASSW|CREDENTIAL/i;
const hidden = new Set<string>();

/** A variable named in --cookie-env: kept out of every bridge (and node) started from now on. */
export function hideFromChildren(name: string): void {
  hidden.add(name);
}

/** The kernel's environment less secrets, plus who this kernel is (shown to a second kernel on the same node). */
function bridgeEnvironment(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SECRET_NAME.test(k) && !hidden.has(k)));
  return { ...env, LUMIN_KERNEL_PID: String(process.pid) };
}

/** Map keys with null values are left out: the agent reads a missing key as "not given". */
function withoutNulls(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => [k, x && typeof x === "object" && x.constructor === Object ? withoutNulls(x as Record<string, unknown>) : x]),
  );
}

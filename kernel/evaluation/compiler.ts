/**
 * The main thread's end of the compiler thread (compilerThread.ts): start it early, ask it to compile, complete
 * and inspect. Requests are answered in order. If the thread dies, pending requests fail with a sentence saying
 * so and the next request starts a new one (the declarations live on the main thread, so nothing is lost).
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { CompilerMessage, CompilerRequest } from "./compilerProtocol";
import { kernelLog } from "./consoleCapture";

export class CompilerThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readyListeners: ((ms: number) => void)[] = [];

  constructor(private readonly log: (text: string) => void = () => {}) {}

  /** Starts the thread (and so the compiler) now, if it is not running; cheap to call again. */
  start(): void {
    if (this.worker) return;
    const worker = new Worker(path.join(__dirname, "compilerThread.js"), { stdout: true, stderr: true });
    this.worker = worker;
    // The compiler's own output goes to the kernel's log, never into a cell.
    worker.stdout.on("data", (d: Buffer) => this.log(d.toString().trimEnd()));
    worker.stderr.on("data", (d: Buffer) => this.log(d.toString().trimEnd()));
    worker.on("message", (m: CompilerMessage) => {
      if ("event" in m) {
        for (const l of this.readyListeners.splice(0)) l(m.ms);
        return;
      }
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(`the TypeScript compiler failed: ${m.error}`));
    });
    const gone = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.log(`the compiler thread stopped: ${why}`);
      for (const p of this.pending.values()) p.reject(new Error(`the TypeScript compiler stopped (${why}); run the cell again to restart it`));
      this.pending.clear();
    };
    worker.on("error", (e) => gone(e.message));
    worker.on("exit", (code) => gone(`exit code ${code}`));
    // The kernel exits on its own terms (shutdown, or the wire closing); this thread never keeps it alive.
    worker.unref();
  }

  /** Called once, when the compiler has started (its standard library parsed). */
  onReady(listener: (ms: number) => void): void {
    this.readyListeners.push(listener);
  }

  request<T>(req: CompilerRequest): Promise<T> {
    this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker!.postMessage({ ...req, id });
    });
  }
}

let shared: CompilerThread | undefined;

/**
 * The kernel's compiler thread. The `kernel` command starts it before it loads anything else, so the compiler
 * is already parsing the standard library while the kernel's own modules load and the wire binds.
 */
export function kernelCompiler(): CompilerThread {
  return (shared ??= new CompilerThread(kernelLog));
}

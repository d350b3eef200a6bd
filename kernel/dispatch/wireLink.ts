/** The main thread's end of the wire thread: send messages, hear requests. Knows nothing of ZeroMQ. */
import { EventEmitter } from "node:events";
import { Worker } from "node:worker_threads";
import path from "node:path";
import { kernelLog } from "../evaluation/consoleCapture";
import type { Channel, MainToWire, Request, WireThreadData, WireToMain } from "../wire/threadMessages";

export class WireLink extends EventEmitter<{
  request: [Request];
  stdin_reply: [Request];
  interrupt: [string];
  shutdown: [boolean];
  exit: [number];
}> {
  private readonly worker: Worker;

  constructor(data: WireThreadData) {
    super();
    this.worker = new Worker(path.join(__dirname, "..", "wire", "wireThread.js"), { workerData: data, stdout: true, stderr: true });
    // The wire thread's logs go to the kernel's real stderr, never into a cell's output.
    this.worker.stderr.on("data", (d: Buffer) => kernelLog(d.toString().trimEnd()));
    this.worker.stdout.on("data", (d: Buffer) => kernelLog(d.toString().trimEnd()));
    this.worker.on("message", (m: WireToMain) => {
      if (m.type === "request") this.emit("request", m.request);
      else if (m.type === "stdin_reply") this.emit("stdin_reply", m.reply);
      else if (m.type === "interrupt") this.emit("interrupt", m.msgId);
      else if (m.type === "shutdown") this.emit("shutdown", m.restart);
    });
    this.worker.on("error", (e) => process.stderr.write(`[elixirlumin] wire thread failed: ${e.stack ?? e}\n`));
    this.worker.on("exit", (code) => this.emit("exit", code));
  }

  send(channel: Exclude<Channel, "control">, msgType: string, content: Record<string, unknown>, parent: Request["header"], metadata?: Record<string, unknown>): void {
    this.worker.postMessage({ type: "send", channel, msgType, content, parent, metadata } satisfies MainToWire);
  }

  publish(msgType: string, content: Record<string, unknown>, parent: Request["header"]): void {
    this.send("iopub", msgType, content, parent);
  }

  reply(request: Request, content: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    this.send("shell", request.header.msg_type.replace(/_request$/, "_reply"), content, request.header, metadata);
  }

  /** Close the sockets; resolves when the wire thread has stopped. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.worker.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage({ type: "close" } satisfies MainToWire);
    });
  }

  /** The current shell request is finished: the wire thread sends `idle` and moves on. */
  done(): void {
    this.worker.postMessage({ type: "done" } satisfies MainToWire);
  }
}

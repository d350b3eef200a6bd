/**
 * The wire thread: every ZeroMQ socket lives here, so heartbeat and control keep being answered while a cell
 * blocks the main thread's event loop (a busy loop can still be interrupted, kernel_info still answers).
 *
 * It answers kernel_info, interrupt_request and shutdown_request itself, and keeps the shell queue: requests
 * go to the main thread one at a time, with `busy`/`idle` around each; after an execute_reply with status
 * `error` (and stop_on_error), the execute_requests already queued are answered `aborted`.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { endpoint, readConnectionFile } from "./connection";
import { BadMessageError, decodeFrames, encodeFrames, Signer } from "./frames";
import { makeHeader, type JupyterMessage } from "./message";
import type { MainToWire, WireThreadData, WireToMain } from "./threadMessages";

const { connectionFile, kernelInfo } = workerData as WireThreadData;
const info = readConnectionFile(connectionFile);
const signer = new Signer(info.key);
const session = makeHeader("", "").msg_id;
const port = parentPort!;

const shell = new zmq.Router();
const control = new zmq.Router();
const stdin = new zmq.Router();
const iopub = new zmq.Publisher();
const heartbeat = new zmq.Reply();

/** Sends are serialised per socket: zeromq v6 allows one pending send at a time. */
const sendQueues = new Map<zmq.Socket, Promise<void>>();
function sendFrames(socket: zmq.Writable & zmq.Socket, frames: Buffer[]): Promise<void> {
  const prev = sendQueues.get(socket) ?? Promise.resolve();
  const next = prev.then(() => socket.send(frames)).catch((e) => log(`send failed: ${e}`));
  sendQueues.set(socket, next);
  return next;
}

function send(
  socket: zmq.Writable & zmq.Socket,
  msgType: string,
  content: Record<string, unknown>,
  parent: Partial<JupyterMessage["header"]>,
  identities: Buffer[],
  metadata: Record<string, unknown> = {},
): Promise<void> {
  const msg: JupyterMessage = { identities, header: makeHeader(msgType, session), parent_header: parent, metadata, content, buffers: [] };
  return sendFrames(socket, encodeFrames(msg, signer));
}

const publish = (msgType: string, content: Record<string, unknown>, parent: Partial<JupyterMessage["header"]> = {}) =>
  send(iopub, msgType, content, parent, [Buffer.from(`kernel.${session}.${msgType}`)]);
const status = (state: "starting" | "busy" | "idle", parent: Partial<JupyterMessage["header"]> = {}) =>
  publish("status", { execution_state: state }, parent);

function log(text: string): void {
  process.stderr.write(`[elixirlumin wire] ${text}\n`);
}

// ---- the shell queue ----------------------------------------------------------------------------------
const queue: JupyterMessage[] = [];
let current: JupyterMessage | null = null;
let abortQueuedExecutes = false;

function pump(): void {
  if (current || queue.length === 0) return;
  current = queue.shift()!;
  status("busy", current.header);
  const { identities: _ids, ...request } = current;
  port.postMessage({ type: "request", request } satisfies WireToMain);
}

function finishCurrent(): void {
  if (!current) return;
  status("idle", current.header);
  current = null;
  if (abortQueuedExecutes) {
    abortQueuedExecutes = false;
    for (const msg of queue.splice(0).filter((m) => {
      if (m.header.msg_type !== "execute_request") return true;
      void abort(m);
      return false;
    })) queue.push(msg);
  }
  pump();
}

async function abort(msg: JupyterMessage): Promise<void> {
  await status("busy", msg.header);
  await send(shell, "execute_reply", { status: "aborted", execution_count: null }, msg.header, msg.identities, { status: "aborted" });
  await status("idle", msg.header);
}

function closeAll(): void {
  for (const s of [shell, control, stdin, iopub, heartbeat]) s.close();
  process.exit(0);
}

port.on("message", (m: MainToWire) => {
  if (m.type === "done") return finishCurrent();
  if (m.type === "close") {
    // Let queued sends leave before the sockets go.
    void Promise.all(sendQueues.values()).then(closeAll);
    return;
  }
  if (m.channel === "iopub") {
    void publish(m.msgType, m.content, m.parent);
    return;
  }
  const ids = current?.identities ?? [];
  if (m.msgType === "execute_reply" && m.content.status === "error" && current?.content.stop_on_error !== false) {
    abortQueuedExecutes = true;
  }
  void send(m.channel === "shell" ? shell : stdin, m.msgType, m.content, m.parent, ids, m.metadata);
});

// ---- requests the wire thread answers itself -------------------------------------------------------------
async function answerKernelInfo(socket: zmq.Router, msg: JupyterMessage): Promise<void> {
  await status("busy", msg.header);
  await send(socket, "kernel_info_reply", kernelInfo, msg.header, msg.identities);
  await status("idle", msg.header);
}

async function onControl(msg: JupyterMessage): Promise<void> {
  const type = msg.header.msg_type;
  if (type === "kernel_info_request") return answerKernelInfo(control, msg);
  await status("busy", msg.header);
  if (type === "interrupt_request") {
    await send(control, "interrupt_reply", { status: "ok" }, msg.header, msg.identities);
    // The main thread runs cells with breakOnSigint, and its SIGINT handler abandons awaited work.
    process.kill(process.pid, "SIGINT");
  } else if (type === "shutdown_request") {
    const restart = Boolean(msg.content.restart);
    await send(control, "shutdown_reply", { status: "ok", restart }, msg.header, msg.identities);
    await status("idle", msg.header);
    port.postMessage({ type: "shutdown", restart } satisfies WireToMain);
    // A main thread stuck in a busy loop cannot clean up; the bridge notices its pipes closing instead.
    setTimeout(() => process.kill(process.pid, "SIGKILL"), 5000).unref();
    return;
  } else {
    await send(control, type.replace(/_request$/, "_reply"), { status: "error", ename: "UnknownRequest", evalue: `${type} is not supported`, traceback: [] }, msg.header, msg.identities);
  }
  await status("idle", msg.header);
}

function onShell(msg: JupyterMessage): void {
  if (msg.header.msg_type === "kernel_info_request") {
    void answerKernelInfo(shell, msg);
    return;
  }
  queue.push(msg);
  pump();
}

async function serve(socket: zmq.Router, handle: (msg: JupyterMessage) => void | Promise<void>, name: string): Promise<void> {
  for await (const frames of socket) {
    let msg: JupyterMessage;
    try {
      msg = decodeFrames(frames, signer);
    } catch (e) {
      log(`dropped a message on ${name}: ${e instanceof BadMessageError ? e.message : String(e)}`);
      continue;
    }
    try {
      await handle(msg);
    } catch (e) {
      log(`error handling ${msg.header.msg_type} on ${name}: ${(e as Error).stack ?? e}`);
    }
  }
}

async function echoHeartbeats(): Promise<void> {
  for await (const frames of heartbeat) await heartbeat.send(frames);
}

async function main(): Promise<void> {
  await Promise.all([
    shell.bind(endpoint(info, info.shell_port)),
    control.bind(endpoint(info, info.control_port)),
    stdin.bind(endpoint(info, info.stdin_port)),
    iopub.bind(endpoint(info, info.iopub_port)),
    heartbeat.bind(endpoint(info, info.hb_port)),
  ]);
  await status("starting");
  void echoHeartbeats();
  void serve(control, onControl, "control");
  void serve(stdin, ({ identities: _ids, ...reply }) => port.postMessage({ type: "stdin_reply", reply } satisfies WireToMain), "stdin");
  await serve(shell, onShell, "shell");
}

main().catch((e) => {
  log(`cannot serve: ${(e as Error).stack ?? e}`);
  process.exit(1);
});

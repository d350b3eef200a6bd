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
import { BadMessageError, decodeFrames, encodeFrames, identitiesOf, Signer } from "./frames";
import { makeHeader, type JupyterMessage, type MessageHeader } from "./message";
import { knownMessageType } from "./messageShape";
import { killSelfAfter, watchParent } from "./parentWatch";
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
    if (current?.header.msg_type === "execute_request") {
      // Named, so that it reaches that cell even if it has not started yet (it is waiting for the compiler), and
      // never a later one; SIGINT breaks a busy loop, which cannot read messages (cells run with breakOnSigint).
      port.postMessage({ type: "interrupt", msgId: current.header.msg_id } satisfies WireToMain);
      process.kill(process.pid, "SIGINT");
    }
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
  if (!knownMessageType(msg.header.msg_type) || msg.header.msg_type === "interrupt_request" || msg.header.msg_type === "shutdown_request") {
    log(`dropped a message on shell: ${msg.header.msg_type} is not a shell request this kernel serves`);
    if (msg.header.msg_type.endsWith("_request")) void answerBad(shell, msg.header, msg.identities, `${msg.header.msg_type} is not supported on the shell channel`);
    return;
  }
  queue.push(msg);
  pump();
}

/** An error reply to a request that could not be used, so its client is not left waiting. */
async function answerBad(socket: zmq.Router, header: MessageHeader, identities: Buffer[], problem: string): Promise<void> {
  const content: Record<string, unknown> = { status: "error", ename: "BadRequest", evalue: problem, traceback: [`BadRequest: ${problem}`] };
  if (header.msg_type === "execute_request") content.execution_count = null;
  await status("busy", header);
  await send(socket, header.msg_type.replace(/_request$/, "_reply"), content, header, identities);
  await status("idle", header);
}

async function serve(socket: zmq.Router, handle: (msg: JupyterMessage) => void | Promise<void>, name: "shell" | "control" | "stdin"): Promise<void> {
  for await (const frames of socket) {
    let msg: JupyterMessage;
    try {
      msg = decodeFrames(frames, signer);
    } catch (e) {
      const header = e instanceof BadMessageError ? e.header : undefined;
      const answered = Boolean(header && name !== "stdin" && header.msg_type.endsWith("_request"));
      log(`${answered ? "answered with an error" : "dropped"} a message on ${name}: ${e instanceof BadMessageError ? e.message : String(e)}`);
      if (answered) await answerBad(socket, header!, identitiesOf(frames), (e as Error).message).catch((err) => log(`could not answer it: ${err}`));
      continue;
    }
    try {
      await handle(msg);
    } catch (e) {
      log(`error handling ${msg.header.msg_type} on ${name}: ${(e as Error)?.stack ?? e}`);
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
  watchParent(() => {
    log("the process that started this kernel has gone: shutting down");
    port.postMessage({ type: "shutdown", restart: false } satisfies WireToMain);
    killSelfAfter(6000);
  });
  // A socket's loop only ends if its socket fails; say so rather than die quietly.
  const served = (name: string) => (e: unknown) => log(`the ${name} channel stopped: ${(e as Error)?.stack ?? e}`);
  void serve(control, onControl, "control").catch(served("control"));
  void serve(stdin, ({ identities: _ids, ...reply }) => port.postMessage({ type: "stdin_reply", reply } satisfies WireToMain), "stdin").catch(served("stdin"));
  await serve(shell, onShell, "shell");
}

main().catch((e) => {
  log(`cannot serve: ${(e as Error).stack ?? e}`);
  process.exit(1);
});

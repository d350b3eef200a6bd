/**
 * The kernel process: the wire thread serves the sockets; this thread runs cells. Started by
 * `elixirlumin kernel CONNECTION_FILE` (kernel/cli.ts). Nothing heavy is loaded here: the TypeScript compiler,
 * vega and the BEAM bridge all start on first use.
 */
import { CommRegistry } from "./comms/commRegistry";
import { Dispatcher } from "./dispatch/dispatcher";
import { StdinBroker } from "./dispatch/stdinBroker";
import { WireLink } from "./dispatch/wireLink";
import { magicFromTypeScript } from "./evaluation/cellRouter";
import { bindCellScope } from "./evaluation/currentOutput";
import { KernelState } from "./kernelState";
import { captureConsole, kernelLog } from "./evaluation/consoleCapture";
import { TslabEvaluator } from "./evaluation/tsEvaluator";
import { kernelCompiler } from "./evaluation/compiler";
import { HistoryStore } from "./history/historyStore";
import { kernelInfo } from "./kernelInfo";
import { registerProbesTarget } from "./comms/probesTarget";
import type { Request } from "./wire/threadMessages";
import { MagicRegistry } from "./magics/registry";
// The one place the kernel imports magics/: the registry is assembled here and passed to whatever needs it.
import { MAGICS } from "../magics";

export function startKernel(connectionFile: string): void {
  const link = new WireLink({ connectionFile, kernelInfo: kernelInfo() });
  const comms = new CommRegistry();
  // The kernel's state, all of it: passed to whatever needs it from here.
  const state = new KernelState(new MagicRegistry(MAGICS), comms, new HistoryStore());
  registerProbesTarget(comms, () => state.beam);
  // The compiler starts in its own thread now, so the first TypeScript cell finds it warm; nothing here waits.
  const ts = new TslabEvaluator(process.cwd(), kernelCompiler(), () => state.compiledCells);
  ts.warm();
  const dispatcher = new Dispatcher({ link, ts, stdin: new StdinBroker(link), state });

  (globalThis as { __lumin_magic__?: unknown }).__lumin_magic__ = (name: string, argText: string, statement?: boolean) => magicFromTypeScript(state, name, argText, statement);
  bindCellScope(state);
  captureConsole();

  // Comm messages go out on iopub under the latest request: the one that caused them, or (for a comm's
  // later messages, such as live probe statuses) the one running when they happen.
  let latest: Request["header"] | undefined;
  comms.setSender((msgType, content) => {
    if (latest) link.publish(msgType, content, latest);
  });

  // One request at a time, in order: the wire thread sends the next only after `done`.
  link.on("request", (req) => {
    latest = req.header;
    void dispatcher.handle(req);
  });
  // interrupt_request: the wire thread names the cell (it may not have started yet), and sends SIGINT, which
  // breaks a busy loop (cells run with breakOnSigint); a SIGINT from elsewhere stops whatever cell runs.
  // The wire thread's own SIGINT may be handled after its message has already stopped that cell and the next
  // one has started: for a moment after such a message, a SIGINT only reaches the cell that message named.
  let named: { msgId: string; until: number } | undefined;
  link.on("interrupt", (msgId) => {
    named = { msgId, until: performance.now() + 2000 };
    dispatcher.interrupt(msgId);
  });
  process.on("SIGINT", () => dispatcher.interrupt(named && performance.now() < named.until ? named.msgId : undefined));
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await state.shutdown.run();
    await link.close();
    process.exit(code);
  };
  link.on("shutdown", () => void exit(0));
  link.on("exit", (code) => {
    if (!exiting) process.exit(code === 0 ? 0 : 1);
  });
  process.on("SIGTERM", () => void exit(0));
  process.on("uncaughtException", (e) => kernelLog(`uncaught: ${e.stack ?? e}`));
  process.on("unhandledRejection", (e) => kernelLog(`unhandled rejection: ${(e as Error)?.stack ?? e}`));
}

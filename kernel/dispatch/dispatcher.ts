/**
 * The shell requests the wire thread forwards, one at a time: each handler gets the request and answers it.
 * Nothing here knows of sockets or signatures.
 */
import type { CellEnvironment } from "../evaluation/types";
import { completeCell, inspectCell, isCellComplete, runCell } from "../evaluation/cellRouter";
import { kernelLog } from "../evaluation/consoleCapture";
import type { TslabEvaluator } from "../evaluation/tsEvaluator";
import { bundleMetadata, toMimeBundle } from "../display/mimeBundle";
import type { HistoryEntry } from "../history/historyStore";
import type { Request } from "../wire/threadMessages";
import type { KernelState } from "../kernelState";
import { CellOutput } from "./cellOutput";
import type { StdinBroker } from "./stdinBroker";
import type { WireLink } from "./wireLink";

export interface KernelParts {
  link: WireLink;
  ts: TslabEvaluator;
  stdin: StdinBroker;
  state: KernelState;
}

export class Dispatcher {
  private executionCount = 0;
  private running: { controller: AbortController; msgId: string } | undefined;
  /** Completion and inspection have no cell: they get an environment whose output goes nowhere. */
  private readonly quietEnv: CellEnvironment;

  constructor(private readonly k: KernelParts) {
    const quietIo = { stream() {}, display() {}, displayBundle() {}, updateDisplay() {}, clearOutput() {}, payload() {}, page() {}, input: () => Promise.reject(new Error("no input here")) };
    this.quietEnv = { io: quietIo, ts: k.ts, state: k.state, signal: new AbortController().signal };
  }

  /**
   * An interrupt: the cell running now (or, given `msgId`, only if it is that request's) is stopped — before it
   * runs if it has not started (it is still waiting for the compiler), else its awaited work is abandoned. A busy
   * loop is broken by SIGINT itself (the cell runs with breakOnSigint).
   */
  interrupt(msgId?: string): void {
    if (!this.running || (msgId !== undefined && this.running.msgId !== msgId)) return;
    this.running.controller.abort();
    this.k.stdin.cancel();
  }

  async handle(req: Request): Promise<void> {
    try {
      switch (req.header.msg_type) {
        case "execute_request":
          return await this.execute(req);
        case "complete_request":
          return await this.complete(req);
        case "inspect_request":
          return await this.inspect(req);
        case "is_complete_request":
          return this.k.link.reply(req, await isCellComplete(String(req.content.code ?? ""), this.quietEnv));
        case "history_request":
          return this.history(req);
        case "comm_info_request":
          return this.k.link.reply(req, { status: "ok", comms: this.k.state.comms.info(req.content.target_name) });
        case "comm_open":
          if (!this.k.state.comms.opened(req.content.comm_id, req.content.target_name, req.content.data ?? {})) {
            this.k.link.publish("comm_close", { comm_id: req.content.comm_id, data: {} }, req.header);
          }
          return;
        case "comm_msg":
          return this.k.state.comms.message(req.content.comm_id, req.content.data ?? {});
        case "comm_close":
          return this.k.state.comms.closed(req.content.comm_id, req.content.data ?? {});
        default:
          kernelLog(`ignored an unknown shell request: ${req.header.msg_type}`);
      }
    } catch (e) {
      kernelLog(`error handling ${req.header.msg_type}: ${(e as Error).stack ?? e}`);
      if (req.header.msg_type.endsWith("_request")) {
        this.k.link.reply(req, { status: "error", ename: (e as Error).name ?? "Error", evalue: (e as Error).message ?? String(e), traceback: [] });
      }
    } finally {
      this.k.link.done();
    }
  }

  private async execute(req: Request): Promise<void> {
    const code = String(req.content.code ?? "");
    const silent = Boolean(req.content.silent);
    const store = !silent && req.content.store_history !== false;
    if (store) this.executionCount++;
    const count = this.executionCount;
    const { link } = this.k;
    if (!silent) link.publish("execute_input", { code, execution_count: count }, req.header);
    if (store) this.k.state.history.append(count, code);

    if (!silent) this.k.state.report.cellStarted(code);
    const output = new CellOutput(link, req, this.k.stdin, this.k.state);
    this.k.state.output = output;
    const controller = new AbortController();
    this.running = { controller, msgId: req.header.msg_id };
    const cellId = typeof (req.metadata as Record<string, unknown> | undefined)?.cellId === "string" ? String((req.metadata as Record<string, unknown>).cellId) : undefined;
    const env: CellEnvironment = { io: output, ts: this.k.ts, state: this.k.state, signal: controller.signal, cellNumber: count, cellId };
    this.k.ts.kernelBusy(true);
    const outcome = await runCell(code, env).finally(() => this.k.ts.kernelBusy(false));
    this.running = undefined;

    let reply: Record<string, unknown>;
    if (outcome.status === "ok") {
      if (outcome.hasValue && !silent) {
        const data = await toMimeBundle(outcome.value, this.k.state).catch((e) => ({ "text/plain": `(the value could not be shown: ${(e as Error).message})` }));
        await output.flushed();
        link.publish("execute_result", { execution_count: count, data, metadata: bundleMetadata(data) }, req.header);
        if (store && typeof data["text/plain"] === "string") this.k.state.history.setOutput(count, data["text/plain"] as string);
      }
      await output.flushed();
      reply = { status: "ok", execution_count: count, payload: output.payloads, user_expressions: await this.userExpressions(req, env) };
    } else if (outcome.status === "error") {
      await output.flushed();
      const { ename, evalue, traceback } = outcome;
      link.publish("error", { ename, evalue, traceback }, req.header);
      reply = { status: "error", execution_count: count, ename, evalue, traceback };
    } else {
      await output.flushed();
      reply = { status: "aborted", execution_count: count };
    }
    link.reply(req, reply, { status: reply.status });
  }

  /** user_expressions: each evaluated after the cell, its text/plain (or error) returned. */
  private async userExpressions(req: Request, env: CellEnvironment): Promise<Record<string, unknown>> {
    const exprs = (req.content.user_expressions ?? {}) as Record<string, string>;
    const out: Record<string, unknown> = {};
    for (const [key, expr] of Object.entries(exprs)) {
      const r = await runCell(String(expr), { ...env, io: this.quietEnv.io });
      out[key] = r.status === "ok"
        ? { status: "ok", data: r.hasValue ? await toMimeBundle(r.value) : { "text/plain": "undefined" }, metadata: {} }
        : r.status === "error" ? { status: "error", ename: r.ename, evalue: r.evalue, traceback: r.traceback } : { status: "aborted" };
    }
    return out;
  }

  private async complete(req: Request): Promise<void> {
    const code = String(req.content.code ?? "");
    const cursor = Number(req.content.cursor_pos ?? code.length);
    const c = await completeCell(code, cursor, this.quietEnv);
    this.k.link.reply(req, { status: "ok", matches: c.matches, cursor_start: c.start, cursor_end: c.end, metadata: {} });
  }

  private async inspect(req: Request): Promise<void> {
    const code = String(req.content.code ?? "");
    const text = await inspectCell(code, Number(req.content.cursor_pos ?? code.length), this.quietEnv);
    this.k.link.reply(req, { status: "ok", found: Boolean(text), data: text ? { "text/plain": text } : {}, metadata: {} });
  }

  private history(req: Request): void {
    const c = req.content;
    let entries: HistoryEntry[];
    if (c.hist_access_type === "range") entries = this.k.state.history.range(Number(c.session ?? 0), Number(c.start ?? 0), c.stop === undefined || c.stop === null ? undefined : Number(c.stop));
    else if (c.hist_access_type === "search") entries = this.k.state.history.search(String(c.pattern ?? "*"), c.n ? Number(c.n) : undefined, Boolean(c.unique));
    else entries = this.k.state.history.tail(Number(c.n ?? 10));
    const history = entries.map((e) => (c.output ? [e.session, e.line, [e.input, e.output ?? null]] : [e.session, e.line, e.input]));
    this.k.link.reply(req, { status: "ok", history });
  }
}

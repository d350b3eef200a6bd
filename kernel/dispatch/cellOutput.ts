/**
 * CellIO for one execute_request: streams, displays, updates, input requests and payloads, sent in the order
 * the cell made them (a display waits for its SVG before the next print goes out).
 */
import { randomUUID } from "node:crypto";
import type { CellIO, DisplayOptions, MimeBundle } from "../evaluation/cellIO";
import { bundleMetadata, toMimeBundle, type ShownTo } from "../display/mimeBundle";
import { LIMITS } from "../display/limits";
import type { Request } from "../wire/threadMessages";
import type { WireLink } from "./wireLink";
import type { StdinBroker } from "./stdinBroker";

export class CellOutput implements CellIO {
  readonly payloads: Record<string, unknown>[] = [];
  private chain: Promise<void> = Promise.resolve();
  private streamed = 0;
  private streamCutNoted = false;

  constructor(
    private readonly link: WireLink,
    private readonly request: Request,
    private readonly stdin: StdinBroker,
    /** Where what this cell shows is kept: the report for %export, the recording's pictures. */
    private readonly shownTo: ShownTo,
  ) {}

  private enqueue(work: () => Promise<void> | void): void {
    this.chain = this.chain.then(work).catch((e) => this.link.publish("stream", { name: "stderr", text: `could not show an output: ${(e as Error).message}\n` }, this.request.header));
  }

  /** Resolves once everything the cell asked to show has been sent. */
  flushed(): Promise<void> {
    return this.chain;
  }

  stream(name: "stdout" | "stderr", text: string): void {
    if (!text) return;
    const room = LIMITS.maxStreamChars - this.streamed;
    if (room <= 0) {
      if (!this.streamCutNoted) {
        this.streamCutNoted = true;
        this.enqueue(() => this.link.publish("stream", { name: "stderr", text: `\n… output cut: this cell printed more than ${LIMITS.maxStreamChars.toLocaleString("en")} characters; the rest is not shown\n` }, this.request.header));
      }
      return;
    }
    const part = text.length > room ? text.slice(0, room) : text;
    this.streamed += part.length;
    this.enqueue(() => this.link.publish("stream", { name, text: part }, this.request.header));
  }

  display(value: unknown, options?: DisplayOptions): void {
    this.enqueue(async () => this.sendBundle("display_data", await toMimeBundle(value, this.shownTo), options?.displayId, options?.metadata));
  }

  displayBundle(bundle: MimeBundle, options?: DisplayOptions): void {
    this.enqueue(() => this.sendBundle("display_data", bundle, options?.displayId, options?.metadata));
  }

  updateDisplay(displayId: string, value: unknown): void {
    this.enqueue(async () => this.sendBundle("update_display_data", await toMimeBundle(value, this.shownTo), displayId));
  }

  private sendBundle(type: string, data: MimeBundle, displayId?: string, metadata: Record<string, unknown> = {}): void {
    const content: Record<string, unknown> = { data, metadata: { ...bundleMetadata(data), ...metadata } };
    if (displayId) content.transient = { display_id: displayId };
    this.link.publish(type, content, this.request.header);
  }

  clearOutput(wait = false): void {
    this.enqueue(() => this.link.publish("clear_output", { wait }, this.request.header));
  }

  async input(prompt: string, options?: { password?: boolean }): Promise<string> {
    if (!this.request.content.allow_stdin) {
      throw new Error("this frontend does not accept input (allow_stdin is false); pass the value another way");
    }
    await this.chain;
    return this.stdin.ask(this.request, prompt, Boolean(options?.password));
  }

  payload(payload: Record<string, unknown>): void {
    this.payloads.push(payload);
  }

  /**
   * A `page` payload for frontends with a pager (JupyterLab, Notebook, console, VS Code — all ask with
   * allow_stdin true). A request with allow_stdin false comes from a headless runner (nbconvert, papermill,
   * nbclient), which drops payloads: there the text is also printed, as IPython prints help in frontends
   * without a pager.
   */
  page(text: string): void {
    this.payload({ source: "page", data: { "text/plain": text }, start: 0 });
    if (!this.request.content.allow_stdin) this.stream("stdout", text.endsWith("\n") ? text : `${text}\n`);
  }
}

export const newDisplayId = (): string => randomUUID();

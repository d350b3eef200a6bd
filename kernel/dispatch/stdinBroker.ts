/** input_request on the stdin channel, and the input_reply that answers it. */
import { interruptedException } from "../evaluation/interrupted";
import type { Request } from "../wire/threadMessages";
import type { WireLink } from "./wireLink";

export class StdinBroker {
  private pending: { resolve: (v: string) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly link: WireLink) {
    link.on("stdin_reply", (reply) => {
      const p = this.pending;
      this.pending = undefined;
      if (reply.header.msg_type === "input_reply") p?.resolve(String(reply.content.value ?? ""));
    });
  }

  ask(request: Request, prompt: string, password: boolean): Promise<string> {
    this.pending?.reject(new Error("a newer input request replaced this one"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.link.send("stdin", "input_request", { prompt, password }, request.header);
    });
  }

  /** An interrupt abandons the question. */
  cancel(): void {
    this.pending?.reject(interruptedException("running"));
    this.pending = undefined;
  }
}

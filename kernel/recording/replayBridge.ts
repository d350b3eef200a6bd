/** A bridge with no node behind it: requests are answered, and events sent, from a recording (replayer.ts). */
import { EventEmitter } from "node:events";
import type { BridgeLike } from "../beam/bridge";
import type { ErlTerm } from "../beam/etf";
import type { BridgeOp } from "../beam/protocol";
import type { NamingMode } from "../beam/session";
import type { Replayer } from "./replayer";

export class ReplayBridge extends EventEmitter<{ event: [type: string, payload: ErlTerm] }> implements BridgeLike {
  constructor(
    private readonly mode: NamingMode,
    private readonly replayer: Replayer,
  ) {
    super();
  }

  /** No bridge node runs; this says whether a live one would be running at this point (it starts on first use). */
  get running(): boolean {
    return this.replayer.used(this.mode);
  }

  request(op: BridgeOp, args: Record<string, unknown>): Promise<ErlTerm> {
    return this.replayer.ask(this.mode, op, args);
  }

  async stop(): Promise<void> {}

  settled(): Promise<void> {
    return this.replayer.settled();
  }
}

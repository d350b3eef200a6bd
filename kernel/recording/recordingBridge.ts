/** A live bridge, teed into a recording: every request, reply and event passes through unchanged. */
import { EventEmitter } from "node:events";
import type { Bridge, BridgeLike } from "../beam/bridge";
import type { ErlTerm } from "../beam/etf";
import type { BridgeOp } from "../beam/protocol";
import type { NamingMode } from "../beam/session";
import type { Recorder } from "./recorder";

export class RecordingBridge extends EventEmitter<{ event: [type: string, payload: ErlTerm] }> implements BridgeLike {
  constructor(
    private readonly live: Bridge,
    private readonly mode: NamingMode,
    private readonly recorder: Recorder,
  ) {
    super();
    live.on("event", (type, payload) => {
      recorder.event(mode, type, payload);
      this.emit("event", type, payload);
      recorder.afterEvent(type, payload);
    });
  }

  get running(): boolean {
    return this.live.running;
  }

  async request(op: BridgeOp, args: Record<string, unknown>, timeoutMs?: number): Promise<ErlTerm> {
    const seq = this.recorder.request(this.mode, op, args);
    try {
      const value = await this.live.request(op, args, timeoutMs);
      this.recorder.reply(seq, value);
      return value;
    } catch (e) {
      this.recorder.fail(seq, e as Error);
      throw e;
    }
  }

  stop(timeoutMs?: number): Promise<void> {
    return this.live.stop(timeoutMs);
  }
}

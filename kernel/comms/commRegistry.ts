/**
 * Comms: targets the kernel offers (the frontend opens a comm to them), and comms the kernel opens itself
 * (live displays). A comm_open for an unknown target is answered with comm_close, as ipykernel does.
 */
import { randomUUID } from "node:crypto";

export interface Comm {
  readonly id: string;
  readonly target: string;
  send(data: Record<string, unknown>): void;
  onMsg(handler: (data: Record<string, unknown>) => void): void;
  onClose(handler: (data: Record<string, unknown>) => void): void;
  close(data?: Record<string, unknown>): void;
}

/** How comm messages reach the frontend (the dispatcher provides it). */
export type CommSender = (msgType: "comm_open" | "comm_msg" | "comm_close", content: Record<string, unknown>) => void;

type TargetHandler = (comm: Comm, openData: Record<string, unknown>) => void;

interface CommState extends Comm {
  handlers: ((data: Record<string, unknown>) => void)[];
  closeHandlers: ((data: Record<string, unknown>) => void)[];
}

export class CommRegistry {
  private readonly targets = new Map<string, TargetHandler>();
  private readonly comms = new Map<string, CommState>();
  private sender: CommSender = () => undefined;

  setSender(sender: CommSender): void {
    this.sender = sender;
  }

  registerTarget(name: string, handler: TargetHandler): void {
    this.targets.set(name, handler);
  }

  private make(id: string, target: string): CommState {
    const comm: CommState = {
      id,
      target,
      handlers: [],
      closeHandlers: [],
      send: (data) => this.sender("comm_msg", { comm_id: id, data }),
      onMsg: (h) => comm.handlers.push(h),
      onClose: (h) => comm.closeHandlers.push(h),
      close: (data = {}) => {
        if (!this.comms.delete(id)) return;
        this.sender("comm_close", { comm_id: id, data });
      },
    };
    this.comms.set(id, comm);
    return comm;
  }

  /** Open a comm from the kernel side. */
  open(target: string, data: Record<string, unknown> = {}): Comm {
    const comm = this.make(randomUUID(), target);
    this.sender("comm_open", { comm_id: comm.id, target_name: target, data });
    return comm;
  }

  /** The frontend opened a comm; false when no such target exists (the caller answers with comm_close). */
  opened(id: string, target: string, data: Record<string, unknown>): boolean {
    const handler = this.targets.get(target);
    if (!handler) return false;
    handler(this.make(id, target), data);
    return true;
  }

  message(id: string, data: Record<string, unknown>): void {
    for (const h of this.comms.get(id)?.handlers ?? []) h(data);
  }

  closed(id: string, data: Record<string, unknown>): void {
    const comm = this.comms.get(id);
    this.comms.delete(id);
    for (const h of comm?.closeHandlers ?? []) h(data);
  }

  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const c of this.comms.values()) if (!targetName || c.target === targetName) out[c.id] = { target_name: c.target };
    return out;
  }
}

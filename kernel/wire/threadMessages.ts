/**
 * What the wire thread and the main thread say to each other. The wire thread owns the sockets; the main
 * thread runs cells. Only decoded messages cross: the main thread never sees a socket or a signature.
 */
import type { JupyterMessage } from "./message";

export type Channel = "shell" | "iopub" | "stdin" | "control";

/** A request as the main thread sees it: no routing identities. */
export type Request = Omit<JupyterMessage, "identities">;

export type WireToMain =
  | { type: "request"; request: Request }
  | { type: "stdin_reply"; reply: Request }
  /** interrupt_request while this execute_request is the current one (queued on the main thread or running). */
  | { type: "interrupt"; msgId: string }
  | { type: "shutdown"; restart: boolean };

export type MainToWire =
  | {
      type: "send";
      channel: Exclude<Channel, "control">;
      msgType: string;
      content: Record<string, unknown>;
      parent: Request["header"] | Record<string, never>;
      metadata?: Record<string, unknown>;
    }
  /** The main thread finished the current shell request: the wire thread sends `idle` and the next one. */
  | { type: "done" }
  /** The kernel is exiting: close every socket (an open socket at exit aborts the process). */
  | { type: "close" };

export interface WireThreadData {
  connectionFile: string;
  kernelInfo: Record<string, unknown>;
}

/**
 * The kernel's view of the BEAM: its bridge, the nodes attached (and which one cells use by default), and
 * the probes armed through it. One per kernel, in its state (kernel/kernelState.ts), made on the first BEAM magic.
 */
import { Bridge } from "./bridge";
import { Atom, ErlMap, type ErlTerm } from "./etf";
import { toJs } from "./term";
import type { ArmReply, BridgeReplies, CompleteReply, ConnectReply, ProbeArm, ProbeStatusEvent, SnapshotKind } from "./protocol";
import type { Syntax } from "./termFormat";
import { ProbeStore } from "../tables/probeStore";
import type { ShutdownHooks } from "../dispatch/shutdownHooks";

export class BeamSession {
  readonly bridge = new Bridge();
  readonly probes = new ProbeStore();
  private readonly nodes = new Map<string, ConnectReply>();
  private current: string | undefined;

  constructor(shutdown: ShutdownHooks) {
    this.bridge.on("event", (type, payload) => this.onEvent(type, payload));
    shutdown.add(() => this.bridge.stop());
  }

  private onEvent(type: string, payload: ErlTerm): void {
    if (type === "probe_status") this.probes.onStatus(toJs(payload) as ProbeStatusEvent);
    else if (type === "probe_batch" && payload instanceof ErlMap) {
      this.probes.onBatch(String(toJs(payload.get("name")!)), payload.get("batch") as Uint8Array);
    } else if (type === "node_down") {
      const node = String((toJs(payload) as { node: string }).node);
      this.forget(node);
      this.probes.nodeDown(node);
    } else if (type === "bridge_down") {
      for (const node of [...this.nodes.keys()]) {
        this.forget(node);
        this.probes.nodeDown(node);
      }
    }
  }

  /** A request whose reply is read as plain JavaScript, typed by its op (kernel/beam/protocol.ts). */
  private async ask<Op extends "connect" | "start_node" | "complete" | "probe_arm">(op: Op, args: Record<string, unknown>, timeoutMs: number): Promise<BridgeReplies[Op]> {
    return toJs(await this.bridge.request(op, args, timeoutMs)) as BridgeReplies[Op];
  }

  private remember(info: ConnectReply): ConnectReply {
    this.nodes.set(info.node, info);
    this.current = info.node;
    return info;
  }

  private forget(node: string): void {
    this.nodes.delete(node);
    if (this.current === node) this.current = [...this.nodes.keys()].at(-1);
  }

  async connect(node: string, cookie: string | null, timeoutMs = 5000): Promise<ConnectReply> {
    return this.remember(await this.ask("connect", { node, cookie, timeout_ms: timeoutMs }, timeoutMs + 15_000));
  }

  async startNode(name: string, appDir: string | null): Promise<ConnectReply> {
    return this.remember(await this.ask("start_node", { name, app_dir: appDir, timeout_ms: 120_000 }, 180_000));
  }

  async disconnect(node: string): Promise<void> {
    await this.bridge.request("disconnect", { node });
    this.forget(node);
    this.probes.nodeDown(node);
  }

  attached(): ConnectReply[] {
    return [...this.nodes.values()];
  }

  /** The node a magic works on: the one named, or the one attached last. */
  node(name?: string): ConnectReply {
    if (name) {
      const info = this.nodes.get(name) ?? [...this.nodes.values()].find((n) => n.node.startsWith(`${name}@`));
      if (!info) throw new Error(`${name} is not attached (attached: ${[...this.nodes.keys()].join(", ") || "none"}); %connect it first`);
      return info;
    }
    const info = this.current ? this.nodes.get(this.current) : undefined;
    if (!info) throw new Error("no node is attached: %connect NODE to attach to a running node, or %node start NAME to start one");
    return info;
  }

  syntaxOf(node: string): Syntax {
    return this.nodes.get(node)?.language === "erlang" ? "erlang" : "elixir";
  }

  async eval(node: string, language: "elixir" | "erlang", code: string): Promise<{ value: ErlTerm; text: string }> {
    const r = await this.bridge.request("eval", { node, language: new Atom(language), code }, 130_000);
    const m = r as ErlMap;
    return { value: m.get("value")!, text: Buffer.from(m.get("text") as Uint8Array).toString("utf8") };
  }

  async arm(node: string, name: string, { kind, spec }: ProbeArm): Promise<ArmReply> {
    this.probes.add({
      name, node, kind, target: spec.target, spec: { ...spec }, syntax: this.syntaxOf(node),
      status: { name, node, kind, target: spec.target, state: "armed", seen: 0, dropped: 0, rate: 0, why_ended: null, detail: null },
    });
    try {
      return await this.ask("probe_arm", { node, name, kind: new Atom(kind), spec }, 60_000);
    } catch (e) {
      this.probes.onStatus({ ...this.probes.get(name)!.status, state: "ended", why_ended: "refused", detail: (e as Error).message });
      throw e;
    }
  }

  async disarm(name: string | null): Promise<void> {
    await this.bridge.request("probe_disarm", { name, all: name === null });
  }

  async snapshot(node: string, kind: SnapshotKind, options: Record<string, unknown>): Promise<Uint8Array> {
    return (await this.bridge.request("snapshot", { node, kind: new Atom(kind), options }, 60_000)) as Uint8Array;
  }

  async process(node: string, target: string, what: "state" | "info"): Promise<ErlTerm> {
    return this.bridge.request("process", { node, target, what: new Atom(what) }, 30_000);
  }

  async complete(node: string, module: string | null, prefix: string): Promise<CompleteReply> {
    return this.ask("complete", { node, module, prefix }, 5000);
  }
}

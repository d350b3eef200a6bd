/**
 * The kernel's view of the BEAM: its bridges, the nodes attached (and which one cells use by default), and
 * the probes armed through it. One per kernel, in its state (kernel/kernelState.ts), made on the first BEAM magic.
 *
 * Naming modes. One Erlang node speaks either short names (`app@host`) or long names (`app@host.domain`,
 * `app@127.0.0.1`), never both, so the kernel has one bridge per mode, each started on first need: a kernel
 * talks to both kinds of node at once, and a failed connect in one mode never locks it out of the other.
 *
 * Lost nodes. A node that goes away (killed, halted, or it dropped the connection) is marked down with the
 * time and the reason; its probes end with `node_down`, their rows kept. The next magic that needs the node
 * attaches again (reloading the agent) with the cookie the bridge kept for it.
 *
 * Interrupts. Every wait on a node ends when the cell is interrupted: an evaluation is killed on the node;
 * other requests stop being waited for at once (the cell says so), and what they do when they finish late
 * is undone — a node attached or started after the interrupt is detached, a probe armed after it disarmed.
 */
import { Bridge, type BridgeLike } from "./bridge";
import { Atom, ErlMap, type ErlTerm } from "./etf";
import { sketchesEvent } from "./sketchesEvent";
import { toJs } from "./term";
import type { ArmReply, BridgeReplies, BridgeRequests, ClusterChangeEvent, ClusterReply, CompleteReply, ConnectReply, ProbeArm, ProbeStatusEvent, SnapshotKind, WhatIfReply, WhatIfRequest } from "./protocol";
import type { Syntax } from "./termFormat";
import { memberName, ProbeStore } from "../tables/probeStore";
import type { ShutdownHooks } from "../dispatch/shutdownHooks";
import { RedactionSettings, type RedactionPolicy } from "../redaction/policy";

/** Code larger than this is refused before it is sent: a cell is code, not a way to ship data to a node. */
export const MAX_CODE_BYTES = 4 * 1024 * 1024;

export type NamingMode = "short" | "long";

/** A host with a dot (a domain, or an IP address) means long names, as Erlang decides it. */
export function namingMode(node: string): NamingMode {
  return node.slice(node.indexOf("@") + 1).includes(".") ? "long" : "short";
}

/** An attached node; `down` is set from the moment it was lost until it is attached again. */
export interface AttachedNode extends ConnectReply {
  down?: { at: Date; reason: string };
}

/** A node of an attached node's cluster, as last seen: its connection type, and when it last joined or left. */
export interface ClusterPeer {
  peer: string;
  type: "visible" | "hidden";
  change: "joined" | "left" | "present";
  at: Date;
  /** The attached node that saw it. */
  seenFrom: string;
}

export interface EvalOptions {
  timeoutMs?: number;
  /** Aborting kills the evaluation on the node. */
  signal?: AbortSignal;
  /** What the code prints (`IO.puts`, `io:format`), as it prints it. */
  onOutput?: (text: string) => void;
}

export class BeamSession {
  private readonly bridges: Record<NamingMode, BridgeLike>;
  readonly probes = new ProbeStore();
  private readonly nodes = new Map<string, AttachedNode>();
  /** The peers of the clusters attached with `%connect --cluster`; hidden ones only when asked for. */
  private readonly peers = new Map<string, ClusterPeer>();
  private clusterHidden = false;
  private readonly outputs = new Map<number, (text: string) => void>();
  private current: string | undefined;
  private nextEval = 1;
  /** The redaction policy each bridge was last given (a bridge gives it to every agent it starts). */
  private readonly policySent = new Map<BridgeLike, RedactionPolicy>();

  /**
   * `cellSignal`: the running cell's abort signal (aborted when the user interrupts it). `bridgeFor`: the bridge
   * of each naming mode — a live one by default; a recording's or a replay's under %record / %replay.
   */
  constructor(
    shutdown: ShutdownHooks,
    private readonly cellSignal: () => AbortSignal | undefined = () => undefined,
    /** The kernel's redaction policy: sent to each node as it is attached, and again when it changes. */
    readonly redaction: RedactionSettings = new RedactionSettings(),
    bridgeFor: (mode: NamingMode) => BridgeLike = () => new Bridge(),
  ) {
    this.bridges = { short: bridgeFor("short"), long: bridgeFor("long") };
    // A replay knows when nothing more will come until the next request or magic: waits end there.
    const replay = this.bridges.short;
    if (replay.settled) this.probes.settled = () => replay.settled!();
    for (const mode of ["short", "long"] as const) {
      this.bridges[mode].on("event", (type, payload) => this.onEvent(mode, type, payload));
    }
    shutdown.add(() => Promise.all(Object.values(this.bridges).map((b) => b.stop())).then(() => undefined));
    // A cluster-wide count budget reached: every member still armed is disarmed.
    this.probes.onGroupTotal = (g) => {
      for (const m of g.members) if (this.probes.get(m)?.status.state === "armed") void this.disarm(m).catch(() => undefined);
    };
    // A new policy goes to every running bridge, and through it to every attached node, before %redact returns.
    redaction.onChange(async (policy) => {
      for (const p of this.probes.all()) if (p.status.state !== "ended") p.redaction.push(policy);
      await Promise.all(Object.values(this.bridges).filter((b) => b.running).map((b) => this.sendPolicy(b)));
    });
  }

  /** Give `bridge` the policy in force, unless it has it: before it attaches a node, and when it changes. */
  private async sendPolicy(bridge: BridgeLike): Promise<void> {
    const policy = this.redaction.policy;
    if (this.policySent.get(bridge) === policy) return;
    await bridge.request("redact", { enabled: policy.enabled, keys: [...policy.keys] }, 30_000);
    this.policySent.set(bridge, policy);
  }

  private bridge(node: string): BridgeLike {
    return this.bridges[namingMode(node)];
  }

  /** A request whose reply is read as plain JavaScript, typed by its op (kernel/beam/protocol.ts). */
  private async ask<Op extends "connect" | "cluster" | "start_node" | "complete" | "probe_arm" | "suggest_tests">(bridge: BridgeLike, op: Op, args: Record<string, unknown>, timeoutMs: number): Promise<BridgeReplies[Op]> {
    return toJs(await bridge.request(op, args, timeoutMs)) as BridgeReplies[Op];
  }

  private onEvent(mode: NamingMode, type: string, payload: ErlTerm): void {
    if (type === "probe_status") this.probes.onStatus(toJs(payload) as ProbeStatusEvent);
    else if (type === "probe_batch" && payload instanceof ErlMap) {
      this.probes.onBatch(String(toJs(payload.get("name")!)), payload.get("batch") as Uint8Array);
    } else if (type === "eval_output" && payload instanceof ErlMap) {
      const id = Number(payload.get("id"));
      this.outputs.get(id)?.(Buffer.from(payload.get("text") as Uint8Array).toString("utf8"));
    } else if (type === "probe_sketches" && payload instanceof ErlMap) {
      this.probes.onSketches(sketchesEvent(payload));
    } else if (type === "cluster_change") {
      this.onClusterChange(toJs(payload) as ClusterChangeEvent);
    } else if (type === "node_down") {
      const { node, reason, at_ms } = toJs(payload) as { node: string; reason: string; at_ms: number };
      this.lost(node, reason, new Date(Number(at_ms)));
    } else if (type === "bridge_down") {
      this.policySent.delete(this.bridges[mode]);
      const reason = String((toJs(payload) as { reason: string }).reason);
      for (const node of this.nodes.keys()) if (namingMode(node) === mode) this.lost(node, reason, new Date());
    }
  }

  /** Joins and leaves are kept only for clusters attached with --cluster (and hidden peers only when asked). */
  private onClusterChange(e: ClusterChangeEvent): void {
    if (!this.peers.size && !this.clusterHidden) return;
    if (e.type === "hidden" && !this.clusterHidden) return;
    const known = this.peers.get(e.peer);
    // A peer already in the cluster that one more node meets (a hidden node attached later, a mesh still
    // completing) has not joined it: it stays as it was first seen, visible or hidden.
    if (e.change === "joined" && known && known.change !== "left") return;
    // Several attached nodes see the same peer come and go: the first to tell it is kept for that change.
    if (known && known.change === e.change && Math.abs(known.at.getTime() - e.at_ms) < 5000) return;
    this.peers.set(e.peer, { peer: e.peer, type: e.type, change: e.change, at: new Date(e.at_ms), seenFrom: e.node });
  }

  /** The cluster's peers seen so far (%nodes shows them beside the attached nodes). */
  clusterPeers(): ClusterPeer[] {
    return [...this.peers.values()];
  }

  /** The nodes `node` is connected to, visible and hidden apart; remembered as the cluster's present peers. */
  async cluster(node: string, hidden: boolean): Promise<ClusterReply> {
    await this.ready(node);
    const r = await this.interruptible(`${node} to list its peers`, this.ask(this.bridge(node), "cluster", { node }, 15_000));
    this.clusterHidden ||= hidden;
    const at = new Date();
    for (const [type, list] of [["visible", r.visible], ["hidden", hidden ? r.hidden : []]] as const) {
      for (const peer of list) if (!this.peers.has(peer)) this.peers.set(peer, { peer, type, change: "present", at, seenFrom: node });
    }
    // The seed itself belongs to its cluster.
    if (!this.peers.has(node)) this.peers.set(node, { peer: node, type: "visible", change: "present", at, seenFrom: node });
    return r;
  }

  /** Attach to a peer of an attached node, with the cookie set for that node. */
  async connectPeer(peer: string, through: string, timeoutMs = 5000): Promise<ConnectReply> {
    if (namingMode(peer) !== namingMode(through)) throw new Error(`${peer} uses ${namingMode(peer)} names and ${through} ${namingMode(through)} names`);
    const known = this.nodes.get(peer);
    if (known?.down) this.forget(peer);
    const bridge = this.bridge(peer);
    const request = this.ask(bridge, "connect", { node: peer, cookie_of: through, timeout_ms: timeoutMs }, timeoutMs + 15_000);
    const current = this.current;
    const info = this.remember(await this.interruptible(`${peer} to attach`, request, (late) => bridge.request("disconnect", { node: late.node })));
    // The node cells use by default stays the one named in %connect.
    this.current = current ?? info.node;
    return info;
  }

  /**
   * The attached nodes a `--nodes` value names: `all` (every node up), names separated by commas (full, or
   * the part before @), or a regular expression written /like this/ or with regex characters. Lost nodes are
   * left out of `all` and of a pattern; named explicitly, they are attached again on use.
   */
  nodesMatching(spec: string): string[] {
    const up = [...this.nodes.values()].filter((n) => !n.down).map((n) => n.node);
    if (spec === "all") {
      if (!up.length) throw new Error("no node is attached: %connect NODE --cluster attaches a node and its cluster");
      return up;
    }
    const names = spec.split(",").map((s) => s.trim()).filter(Boolean);
    const plain = names.every((n) => /^[\w.@-]+$/.test(n));
    if (plain) return [...new Set(names.map((n) => this.node(n).node))];
    const text = /^\/(.*)\/$/.exec(spec)?.[1] ?? spec;
    let re: RegExp;
    try {
      re = new RegExp(text);
    } catch (e) {
      throw new Error(`--nodes ${spec}: not a node list nor a regular expression (${(e as Error).message})`);
    }
    const hits = up.filter((n) => re.test(n));
    if (!hits.length) throw new Error(`--nodes ${spec} matches no attached node (attached: ${up.join(", ") || "none"})`);
    return hits;
  }

  private lost(node: string, reason: string, at: Date): void {
    const info = this.nodes.get(node);
    if (!info || info.down) return;
    info.down = { at, reason };
    this.probes.nodeDown(node, `${reason}, at ${at.toISOString()}`);
  }

  /**
   * Wait for `request`, unless the cell is interrupted first: then the cell ends at once with an Interrupted
   * error, and `undo` runs on the request's value if it arrives later.
   */
  private interruptible<T>(what: string, request: Promise<T>, undo?: (late: T) => unknown): Promise<T> {
    const signal = this.cellSignal();
    if (!signal) return request;
    return new Promise<T>((resolve, reject) => {
      let interrupted = false;
      const onAbort = () => {
        interrupted = true;
        reject(Object.assign(new Error(`stopped waiting for ${what}`), { name: "Interrupted" }));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      request.then(
        (v) => {
          signal.removeEventListener("abort", onAbort);
          if (interrupted) void Promise.resolve(undo?.(v)).catch(() => undefined);
          else resolve(v);
        },
        (e) => {
          signal.removeEventListener("abort", onAbort);
          if (!interrupted) reject(e);
        },
      );
    });
  }

  private remember(info: AttachedNode): AttachedNode {
    this.nodes.set(info.node, info);
    this.current = info.node;
    return info;
  }

  private forget(node: string): void {
    this.nodes.delete(node);
    if (this.current === node) this.current = [...this.nodes.keys()].at(-1);
  }

  async connect(node: string, cookie: string | null, timeoutMs = 5000): Promise<ConnectReply> {
    const known = this.nodes.get(node);
    if (known?.down) this.forget(node);
    const bridge = this.bridge(node);
    await this.sendPolicy(bridge);
    const request = this.ask(bridge, "connect", { node, cookie, timeout_ms: timeoutMs }, timeoutMs + 15_000);
    return this.remember(await this.interruptible(`${node} to attach`, request, (late) => bridge.request("disconnect", { node: late.node })));
  }

  async startNode(name: string, appDir: string | null): Promise<ConnectReply> {
    await this.sendPolicy(this.bridges.short);
    const request = this.ask(this.bridges.short, "start_node", { name, app_dir: appDir, timeout_ms: 120_000 }, 180_000);
    // A node that comes up after the interrupt is stopped: detaching from a node this kernel started stops it.
    return this.remember(await this.interruptible(`${name} to start`, request, (late) => this.bridges.short.request("disconnect", { node: late.node })));
  }

  async disconnect(node: string): Promise<void> {
    if (!this.nodes.get(node)?.down) await this.bridge(node).request("disconnect", { node });
    this.forget(node);
    this.probes.nodeDown(node);
    if (this.nodes.size === 0) {
      this.peers.clear();
      this.clusterHidden = false;
    }
  }

  /** Every node attached, those lost since included (marked `down`). */
  attached(): AttachedNode[] {
    return [...this.nodes.values()];
  }

  /** The node a magic works on: the one named, or the one attached last. */
  node(name?: string): AttachedNode {
    if (name) {
      const info = this.nodes.get(name) ?? [...this.nodes.values()].find((n) => n.node.startsWith(`${name}@`));
      if (!info) throw new Error(`${name} is not attached (attached: ${[...this.nodes.keys()].join(", ") || "none"}); %connect it first`);
      return info;
    }
    const info = this.current ? this.nodes.get(this.current) : undefined;
    if (!info) throw new Error("no node is attached: %connect NODE to attach to a running node, or %node start NAME to start one");
    return info;
  }

  /** A lost node is attached again (agent reloaded) before a magic uses it; one this kernel started cannot be. */
  private async ready(node: string): Promise<void> {
    const info = this.nodes.get(node);
    if (!info?.down) return;
    const when = info.down.at.toISOString();
    if (info.owned) {
      throw new Error(`${node} (started by this kernel) went away at ${when}: ${info.down.reason}. Start it again with %node start.`);
    }
    try {
      await this.sendPolicy(this.bridge(node));
      this.remember(await this.ask(this.bridge(node), "connect", { node, again: true, timeout_ms: 5000 }, 20_000));
    } catch (e) {
      throw new Error(`${node} went away at ${when} (${info.down.reason}) and could not be attached again: ${(e as Error).message}`);
    }
  }

  syntaxOf(node: string): Syntax {
    return this.nodes.get(node)?.language === "erlang" ? "erlang" : "elixir";
  }

  /**
   * Evaluate code on the node. Bindings stay on the node between cells; the evaluation is killed there when
   * `signal` aborts or after `timeoutMs`, and what it prints streams to `onOutput`.
   */
  async eval(node: string, language: "elixir" | "erlang", code: string, o: EvalOptions = {}): Promise<{ value: ErlTerm; text: string; outputCut: number }> {
    const size = Buffer.byteLength(code);
    if (size > MAX_CODE_BYTES) {
      throw new Error(
        `the cell's code is ${(size / 1048576).toFixed(1)} MB, over the ${MAX_CODE_BYTES / 1048576} MB a cell may send to a node; ` +
          `nothing was sent. Put large data in a file on the node's host and read it there (File.read!/1, file:consult/1).`,
      );
    }
    await this.ready(node);
    const timeoutMs = o.timeoutMs ?? 120_000;
    const id = this.nextEval++;
    const bridge = this.bridge(node);
    let interrupted = false;
    const cancel = () => {
      interrupted = true;
      bridge.request("eval_cancel", { node, eval_id: id }, 5000).catch(() => undefined);
    };
    if (o.onOutput) this.outputs.set(id, o.onOutput);
    o.signal?.addEventListener("abort", cancel);
    try {
      if (o.signal?.aborted) cancel();
      const r = (await bridge.request("eval", { node, language: new Atom(language), code, eval_id: id, timeout_ms: timeoutMs }, timeoutMs + 15_000)) as ErlMap;
      return { value: r.get("value")!, text: Buffer.from(r.get("text") as Uint8Array).toString("utf8"), outputCut: Number(r.get("output_cut") ?? 0) };
    } catch (e) {
      if (interrupted) throw Object.assign(new Error((e as Error).message.replace(/^interrupted: /, "")), { name: "Interrupted" });
      throw e;
    } finally {
      o.signal?.removeEventListener("abort", cancel);
      this.outputs.delete(id);
    }
  }

  async arm(node: string, name: string, { kind, spec }: ProbeArm): Promise<ArmReply> {
    await this.ready(node);
    this.probes.add({
      name, node, kind, target: spec.target, spec: { ...spec }, syntax: this.syntaxOf(node), redaction: [this.redaction.policy],
      status: { name, node, kind, target: spec.target, state: "armed", seen: 0, dropped: 0, rate: 0, why_ended: null, detail: null },
    });
    try {
      const request = this.ask(this.bridge(node), "probe_arm", { node, name, kind: new Atom(kind), spec }, 60_000);
      return await this.interruptible(`${name} to arm on ${node}`, request, () => this.disarm(name));
    } catch (e) {
      this.probes.onStatus({ ...this.probes.get(name)!.status, state: "ended", why_ended: "refused", detail: (e as Error).message });
      throw e;
    }
  }

  /**
   * Arm the same probe on every node of `nodes` at once, as a group named `name` (members `name@node`). Each
   * node's budgets are its own; `total` is a cluster-wide count budget. A node that refuses is listed with
   * its reason (its member ends `refused`) while the others run.
   */
  async armOnNodes(nodes: string[], name: string, arm: ProbeArm, total?: number): Promise<{ node: string; reply?: ArmReply; error?: string }[]> {
    const members = nodes.map((n) => memberName(name, n));
    this.probes.addGroup({ name, kind: arm.kind, target: arm.spec.target, nodes, members, total }, arm.spec);
    const results = await Promise.allSettled(nodes.map((n, i) => this.arm(n, members[i], arm)));
    return results.map((r, i) => (r.status === "fulfilled" ? { node: nodes[i], reply: r.value } : { node: nodes[i], error: (r.reason as Error).message }));
  }

  /** Disarm one probe (on its node's bridge) or all of them (on every running bridge). */
  async disarm(name: string | null): Promise<void> {
    const node = name === null ? undefined : this.probes.get(name)?.node;
    const bridges = node ? [this.bridge(node)] : Object.values(this.bridges).filter((b) => b.running);
    await Promise.all(bridges.map((b) => b.request("probe_disarm", { name, all: name === null })));
  }

  async snapshot(node: string, kind: SnapshotKind, options: Record<string, unknown>): Promise<Uint8Array> {
    await this.ready(node);
    return (await this.interruptible(`${node} to answer`, this.bridge(node).request("snapshot", { node, kind: new Atom(kind), options }, 60_000))) as Uint8Array;
  }

  async process(node: string, target: string, what: "state" | "info"): Promise<ErlTerm> {
    await this.ready(node);
    return this.interruptible(`${node} to answer`, this.bridge(node).request("process", { node, target, what: new Atom(what) }, 30_000));
  }

  /**
   * Replay rows on the shadow node (started on first use, owned by the bridge of `node`'s naming mode). An
   * interrupt stops the shadow node, which ends the batch; the next what-if starts a new one.
   */
  async whatif(request: WhatIfRequest): Promise<WhatIfReply> {
    await this.ready(request.node);
    const bridge = this.bridge(request.node);
    const timeoutMs = request.rows.length * (request.timeout_ms + 1000) + 120_000;
    const pending = bridge.request("whatif", request as never, timeoutMs);
    const signal = this.cellSignal();
    const cancel = () => void bridge.request("whatif_cancel", {}, 30_000).catch(() => undefined);
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      const r = (await this.interruptible("the replays on the shadow node", pending)) as ErlMap;
      const started = r.get("started_ms");
      return {
        batch: r.get("batch") as Uint8Array,
        notes: (toJs(r.get("notes")!) as string[]) ?? [],
        started_ms: typeof started === "number" ? started : null,
        ms: Number(r.get("ms")),
      };
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  }

  /** Write tests from recorded call rows on the shadow node and run them there against `node`'s code. */
  async suggestTests(request: BridgeRequests["suggest_tests"]): Promise<BridgeReplies["suggest_tests"]> {
    await this.ready(request.node);
    const timeoutMs = 300_000 + request.rows.length * 10;
    return this.interruptible("the tests on the shadow node", this.ask(this.bridge(request.node), "suggest_tests", request as never, timeoutMs));
  }

  async complete(node: string, module: string | null, prefix: string): Promise<CompleteReply> {
    if (this.nodes.get(node)?.down) return [];
    return this.ask(this.bridge(node), "complete", { node, module, prefix }, 5000);
  }
}

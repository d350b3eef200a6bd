/**
 * What the kernel keeps of each probe: its latest status and its rows, appended batch by batch to one set of
 * compact columns as they arrive (kernel/tables/tableBuilder.ts). `table(name)` makes them an Arquero table in
 * the probe kind's schema (kernel/tables/schemas.ts), with its metadata, without copying them.
 */
import { decodeBatch } from "../beam/batchDecoder";
import type { Syntax } from "../beam/termFormat";
import type { ProbeKind, ProbeSpec, ProbeStatusEvent } from "../beam/protocol";
import { columnNames } from "./schemas";
import { TableBuilder } from "./tableBuilder";
import { columnTable } from "./tables";

export interface ProbeRecord {
  name: string;
  node: string;
  kind: ProbeKind;
  target: string;
  spec: ProbeSpec;
  syntax: Syntax;
  status: ProbeStatusEvent;
  rows: TableBuilder;
  /** Dropped events reported with the batches (the status count can lag). */
  droppedInBatches: number;
}

type StatusListener = (status: ProbeStatusEvent) => void;

export class ProbeStore {
  private readonly probes = new Map<string, ProbeRecord>();
  private readonly listeners = new Map<string, Set<StatusListener>>();
  private readonly everyStatus = new Set<StatusListener>();
  /** Tables read back from capture files (%capture load), by name: probes of an earlier run. */
  private readonly captures = new Map<string, object>();
  private counter = 0;

  nextName(): string {
    do this.counter++;
    while (this.probes.has(`p${this.counter}`) && this.probes.get(`p${this.counter}`)!.status.state !== "ended");
    return `p${this.counter}`;
  }

  add(record: Omit<ProbeRecord, "rows" | "droppedInBatches">): void {
    const limit = record.spec.limit;
    const rows = new TableBuilder(columnNames(record.kind), record.syntax, typeof limit === "number" ? limit : Infinity);
    this.probes.set(record.name, { ...record, rows, droppedInBatches: 0 });
  }

  get(name: string): ProbeRecord | undefined {
    return this.probes.get(name);
  }

  /** Every probe, oldest first. */
  all(): ProbeRecord[] {
    return [...this.probes.values()];
  }

  /** The names a table can be asked for by (probes and loaded captures), newest first. */
  names(): string[] {
    return [...new Set([...this.probes.keys(), ...this.captures.keys()])].reverse();
  }

  /**
   * Forget a probe (or a loaded capture) and its rows: the kernel keeps nothing of it, so its columns are
   * garbage once no table the user still holds shares them. The probe must have ended.
   */
  drop(name: string): { rows: number } {
    const p = this.probes.get(name);
    if (p && p.status.state !== "ended") throw new Error(`${name} is still ${p.status.state}; %disarm it first`);
    const captured = this.captures.get(name) as { numRows?: () => number } | undefined;
    const rows = p ? p.rows.count : (captured?.numRows?.() ?? 0);
    this.probes.delete(name);
    this.captures.delete(name);
    this.listeners.delete(name);
    return { rows };
  }

  onStatus(status: ProbeStatusEvent): void {
    const p = this.probes.get(status.name);
    if (!p) return;
    p.status = status;
    // Its last batch came before this: the room kept for more rows is given back now, not on the next look.
    if (status.state === "ended") p.rows.trim();
    for (const l of this.listeners.get(status.name) ?? []) l(status);
    for (const l of this.everyStatus) l(status);
  }

  onBatch(name: string, bytes: Uint8Array): void {
    const p = this.probes.get(name);
    if (!p) return;
    const batch = decodeBatch(bytes);
    p.rows.append(batch);
    p.droppedInBatches += batch.dropped;
  }

  /** Every probe on `node` has ended (the node went away). */
  nodeDown(node: string, detail = `the connection to ${node} was lost`): void {
    for (const p of this.probes.values()) {
      if (p.node === node && p.status.state !== "ended") {
        this.onStatus({ ...p.status, state: "ended", why_ended: "node_down", detail });
      }
    }
  }

  listen(name: string, listener: StatusListener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  /** Every probe's statuses, as they arrive (the probes comm target uses it). */
  listenAll(listener: StatusListener): () => void {
    this.everyStatus.add(listener);
    return () => this.everyStatus.delete(listener);
  }

  /** Resolves when the probe has ended, or after `timeoutMs`, or when `signal` aborts. */
  waitForEnd(name: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const p = this.probes.get(name);
    if (!p || p.status.state === "ended") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop();
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const stop = this.listen(name, (s) => s.state === "ended" && done());
      signal?.addEventListener("abort", done);
    });
  }

  addCapture(name: string, table: object): void {
    this.captures.set(name, table);
  }

  /** Is there a probe or a loaded capture by this name? */
  has(name: string): boolean {
    return this.probes.has(name) || this.captures.has(name);
  }

  /** The probe's events as one Arquero table, in its kind's schema, with metadata. */
  async table(name: string): Promise<object> {
    const captured = this.captures.get(name);
    if (captured && !this.probes.has(name)) return captured;
    const p = this.probes.get(name);
    if (!p) throw new Error(`there is no probe named ${name} (%probes lists them)`);
    return columnTable(p.kind, p.rows.columns(), {
      probe: p.name,
      node: p.node,
      target: p.target,
      spec: { ...p.spec },
      seen: p.status.seen,
      dropped: Math.max(p.status.dropped, p.droppedInBatches),
      state: p.status.state,
      whyEnded: p.status.why_ended,
      detail: p.status.detail,
    });
  }
}

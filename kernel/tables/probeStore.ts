/**
 * What the kernel keeps of each probe: its latest status and the batches it shipped. `table(name)` turns the
 * batches into one Arquero table in the probe kind's schema (kernel/tables/schemas.ts), with its metadata.
 */
import { columnsAsBatch, decodeBatch, mergeColumns, type DecodedBatch } from "../beam/batchDecoder";
import type { Syntax } from "../beam/termFormat";
import type { ProbeKind, ProbeStatusEvent } from "../beam/protocol";
import { SCHEMAS, columnNames, type TableKind } from "./schemas";
import { setTableMeta } from "./tableMeta";

export interface ProbeRecord {
  name: string;
  node: string;
  kind: ProbeKind;
  target: string;
  spec: Record<string, unknown>;
  syntax: Syntax;
  status: ProbeStatusEvent;
  batches: DecodedBatch[];
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

  add(record: Omit<ProbeRecord, "batches" | "droppedInBatches">): void {
    this.probes.set(record.name, { ...record, batches: [], droppedInBatches: 0 });
  }

  get(name: string): ProbeRecord | undefined {
    return this.probes.get(name);
  }

  all(): ProbeRecord[] {
    return [...this.probes.values()];
  }

  onStatus(status: ProbeStatusEvent): void {
    const p = this.probes.get(status.name);
    if (!p) return;
    p.status = status;
    for (const l of this.listeners.get(status.name) ?? []) l(status);
    for (const l of this.everyStatus) l(status);
  }

  onBatch(name: string, bytes: Uint8Array): void {
    const p = this.probes.get(name);
    if (!p) return;
    const batch = decodeBatch(bytes);
    p.batches.push(batch);
    p.droppedInBatches += batch.dropped;
    // Batches are merged into one compact set of columns as they pile up, so a long probe holds its rows
    // once, narrowly stored, and not batch by batch beside the frames they came in.
    if (p.batches.length >= 16) this.compact(p);
  }

  /** Merge a probe's batches into one; returns its columns, in the kind's schema. */
  private compact(p: ProbeRecord): ReturnType<typeof mergeColumns> {
    const names = columnNames(p.kind as TableKind);
    const count = p.batches.reduce((n, b) => n + b.count, 0);
    const columns = mergeColumns(p.batches, names, p.syntax);
    p.batches = [columnsAsBatch(columns, count, p.kind)];
    return columns;
  }

  /** Every probe on `node` has ended (the node went away). */
  nodeDown(node: string): void {
    for (const p of this.probes.values()) {
      if (p.node === node && p.status.state !== "ended") {
        this.onStatus({ ...p.status, state: "ended", why_ended: "node_down", detail: `the connection to ${node} was lost` });
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
    const aq = await import("arquero");
    const names = columnNames(p.kind as TableKind);
    const table = aq.table(this.compact(p) as never, names);
    setTableMeta(table, {
      probe: p.name,
      kind: p.kind,
      schemaVersion: SCHEMAS[p.kind as TableKind].version,
      node: p.node,
      target: p.target,
      spec: p.spec,
      seen: p.status.seen,
      dropped: Math.max(p.status.dropped, p.droppedInBatches),
      state: p.status.state,
      whyEnded: p.status.why_ended,
      detail: p.status.detail,
    });
    return table;
  }
}

/**
 * What the kernel keeps of each probe: its latest status and its rows, appended batch by batch to one set of
 * compact columns as they arrive (kernel/tables/tableBuilder.ts). `table(name)` makes them an Arquero table in
 * the probe kind's schema (kernel/tables/schemas.ts), with its metadata, without copying them.
 */
import type { RedactionPolicy } from "../redaction/policy";
import { decodeBatch } from "../beam/batchDecoder";
import type { Syntax } from "../beam/termFormat";
import type { ProbeKind, ProbeSpec, ProbeStatusEvent } from "../beam/protocol";
import { columnNames } from "./schemas";
import { TableBuilder } from "./tableBuilder";
import { columnTable } from "./tables";
import { setTableMeta, tableMeta, type TableMeta } from "./tableMeta";
import { SummaryMerge, type SketchesEvent, type SummaryRow } from "../analysis/sketchMerge";

/** What fed a summary's sketches, over every node's rows: all of the calls, or which share (counts are exact either way). */
function sampledNote(rows: SummaryRow[]): string {
  let calls = 0;
  let fed = 0;
  for (const r of rows) {
    if (r.node === "all") continue;
    calls += r.count;
    fed += r.count * (r.sampled ?? 0);
  }
  if (calls === 0 || fed >= calls - 0.5) return "counts exact; every call fed the sketches";
  return `counts exact; ${Math.round(fed).toLocaleString("en")} of the ${calls.toLocaleString("en")} calls (${+((100 * fed) / calls).toPrecision(2)}%) fed the sketches (see sampled): percentiles, max, mean and errors are of those calls`;
}

/** Is this a call probe armed with --summary (sketches, no rows)? */
const isSummary = (spec: ProbeSpec) => (spec as { summary?: unknown }).summary !== undefined;

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
  /** The redaction policies in force while it was armed, oldest first (the session adds each change). */
  redaction: RedactionPolicy[];
  /** A `--summary` probe's sketches, read into rows (its group's, when it is armed on several nodes). */
  summary?: SummaryMerge;
}

type StatusListener = (status: ProbeStatusEvent) => void;

/**
 * A probe armed on several nodes at once (`%probe … --nodes`): one member probe per node, named
 * `NAME@node`, each with its own rows, budgets and status; the group's name gives them together (its table is
 * theirs, each row naming its node; its status adds them up). `total`: the cluster-wide count budget, checked
 * here as the nodes' statuses arrive; `endedBy` says why the group ended its members.
 */
export interface ProbeGroup {
  name: string;
  kind: ProbeKind;
  target: string;
  nodes: string[];
  members: string[];
  total?: number;
  endedBy?: string;
  /** For a `--summary` probe: the merge of every member's sketches. */
  summary?: SummaryMerge;
}

/** The member probe of a group on one node. */
export const memberName = (group: string, node: string) => `${group}@${node}`;

export class ProbeStore {
  private readonly probes = new Map<string, ProbeRecord>();
  private readonly listeners = new Map<string, Set<StatusListener>>();
  private readonly everyStatus = new Set<StatusListener>();
  /** Tables read back from capture files (%capture load), by name: probes of an earlier run. */
  private readonly captures = new Map<string, object>();
  private readonly groups = new Map<string, ProbeGroup>();
  private readonly groupOf_ = new Map<string, ProbeGroup>();
  /** Called once when a group's members together pass its cluster-wide count budget (the session disarms them). */
  onGroupTotal: (group: ProbeGroup) => void = () => undefined;
  private readonly counters = new Map<string, number>();

  /**
   * The next free automatic name: p1, p2… for probes, w1, w2… for what-if results. A name taken — by a probe
   * (ended ones too: their events stay readable), a group, a loaded capture or a what-if's table — is skipped.
   */
  nextName(prefix: "p" | "w" = "p"): string {
    let n = this.counters.get(prefix) ?? 0;
    do n++;
    while (this.has(`${prefix}${n}`));
    this.counters.set(prefix, n);
    return `${prefix}${n}`;
  }

  addGroup(group: ProbeGroup, spec?: ProbeSpec): void {
    if (spec && isSummary(spec)) group.summary = new SummaryMerge(true);
    this.groups.set(group.name, group);
    for (const m of group.members) this.groupOf_.set(m, group);
  }

  group(name: string): ProbeGroup | undefined {
    return this.groups.get(name);
  }

  /** The group a member probe belongs to. */
  groupOf(member: string): ProbeGroup | undefined {
    return this.groupOf_.get(member);
  }

  /** The probes a name stands for: a group's members, or the probe itself. */
  membersOf(name: string): string[] {
    return this.groups.get(name)?.members ?? [name];
  }

  /**
   * A group's status, added up: events seen and dropped over its members; armed while one is; the detail names
   * each node that was lost (and when) or refused the probe (and why), and the cluster-wide budget if it ended it.
   */
  groupStatus(name: string): ProbeStatusEvent {
    const g = this.groups.get(name)!;
    const ms = g.members.map((m) => this.probes.get(m)).filter((p): p is ProbeRecord => p !== undefined);
    const sum = (f: (p: ProbeRecord) => number) => ms.reduce((a, p) => a + f(p), 0);
    const states = ms.map((p) => p.status.state);
    const state = states.includes("armed") ? "armed" : states.includes("ending") ? "ending" : "ended";
    const notes: string[] = [];
    if (g.endedBy) notes.push(g.endedBy);
    notes.push(...this.groupNotes(g));
    const ended = ms.filter((p) => p.status.state === "ended" && p.status.why_ended !== "refused" && p.status.why_ended !== "node_down");
    const why = g.endedBy ? "limit" : state !== "ended" ? null : (ended[0]?.status.why_ended ?? ms[0]?.status.why_ended ?? null);
    if (state === "ended" && ended.length && !g.endedBy) {
      const whys = [...new Set(ended.map((p) => p.status.detail ?? p.status.why_ended))];
      notes.unshift(whys.length === 1 ? String(whys[0]) : ended.map((p) => `${p.node}: ${p.status.detail ?? p.status.why_ended}`).join("; "));
    }
    const armedOn = ms.filter((p) => p.status.why_ended !== "refused").length;
    return {
      name, kind: g.kind, target: g.target, node: `${armedOn} of ${g.nodes.length} nodes`, state,
      seen: sum((p) => p.status.seen), dropped: sum((p) => Math.max(p.status.dropped, p.droppedInBatches)), rate: sum((p) => (p.status.state === "armed" ? p.status.rate : 0)),
      why_ended: why as ProbeStatusEvent["why_ended"], detail: notes.length ? notes.join("; ") : null,
    };
  }

  /** `redaction`: the policy it is armed under (none known: a capture states the one in force when saved). */
  add(record: Omit<ProbeRecord, "rows" | "droppedInBatches" | "redaction"> & { redaction?: RedactionPolicy[] }): void {
    const limit = record.spec.limit;
    const rows = new TableBuilder(columnNames(record.kind), record.syntax, typeof limit === "number" ? limit : Infinity);
    const summary = isSummary(record.spec) ? (this.groupOf_.get(record.name)?.summary ?? new SummaryMerge(false)) : undefined;
    this.probes.set(record.name, { ...record, redaction: record.redaction ?? [], rows, droppedInBatches: 0, ...(summary ? { summary } : {}) });
  }

  /** A `--summary` probe's sketches from its node. */
  onSketches(e: SketchesEvent): void {
    const p = this.probes.get(e.name);
    if (!p?.summary) return;
    // Integers past 2^31 may arrive as BigInt; times are numbers here (the packed sketches hold no BigInt).
    p.summary.add({ ...e, at_us: Number(e.at_us), every_ms: Number(e.every_ms), alpha: Number(e.alpha) });
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
    return [...new Set([...this.probes.keys(), ...this.captures.keys(), ...this.groups.keys()])].reverse();
  }

  /**
   * Forget a probe (or a loaded capture) and its rows: the kernel keeps nothing of it, so its columns are
   * garbage once no table the user still holds shares them. The probe must have ended.
   */
  drop(name: string): { rows: number } {
    const g = this.groups.get(name);
    if (g) {
      const rows = g.members.filter((m) => this.probes.has(m)).reduce((a, m) => a + this.drop(m).rows, 0);
      this.groups.delete(name);
      for (const m of g.members) this.groupOf_.delete(m);
      this.listeners.delete(name);
      return { rows };
    }
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
    const g = this.groupOf_.get(status.name);
    // A member the group's cluster-wide budget ended says so, not "disarmed by the user".
    if (g?.endedBy && status.why_ended === "disarmed") status = { ...status, why_ended: "limit", detail: g.endedBy };
    p.status = status;
    // Its last batch came before this: the room kept for more rows is given back now, not on the next look.
    if (status.state === "ended") p.rows.trim();
    for (const l of this.listeners.get(status.name) ?? []) l(status);
    for (const l of this.everyStatus) l(status);
    if (!g) return;
    const total = this.groupStatus(g.name);
    if (g.total !== undefined && !g.endedBy && total.state === "armed" && total.seen >= g.total) {
      g.endedBy = `cluster-wide count budget of ${g.total.toLocaleString("en")} events reached (${total.seen.toLocaleString("en")} counted on ${g.nodes.length} nodes)`;
      this.onGroupTotal(g);
    }
    for (const l of this.listeners.get(g.name) ?? []) l(this.groupStatus(g.name));
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
        // Its last status may predate the last rows it sent: each row is an event it saw.
        this.onStatus({ ...p.status, seen: Math.max(p.status.seen, p.rows.count), state: "ended", why_ended: "node_down", detail });
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
    const g = this.groups.get(name);
    if (g) return Promise.all(g.members.map((m) => this.waitForEnd(m, timeoutMs, signal))).then(() => undefined);
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
      // Under %replay: once what came during this wait live has been played, a probe still armed did not end
      // within the wait live either — no need to sit out the timeout again.
      void this.settled?.().then(done);
    });
  }

  /**
   * Set under %replay (kernel/beam/session.ts): resolves once the replay has played everything the nodes sent
   * before the next request or magic, so nothing more can come while a magic waits.
   */
  settled?: () => Promise<void>;

  addCapture(name: string, table: object): void {
    this.captures.set(name, table);
  }

  /** Is there a probe or a loaded capture by this name? */
  has(name: string): boolean {
    return this.probes.has(name) || this.captures.has(name) || this.groups.has(name);
  }

  /** The probe's events as one Arquero table, in its kind's schema, with metadata. */
  async table(name: string): Promise<object> {
    const captured = this.captures.get(name);
    if (captured && !this.probes.has(name)) return captured;
    const g = this.groups.get(name);
    if (g) return this.groupTable(g);
    const p = this.probes.get(name);
    if (!p) throw new Error(`there is no probe named ${name} (%probes lists them)`);
    if (p.summary) return this.summaryTable(p.summary, { probe: p.name, node: p.node, target: p.target, spec: { ...p.spec }, seen: p.status.seen, dropped: p.status.dropped, state: p.status.state, whyEnded: p.status.why_ended, detail: p.status.detail });
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
      ...(p.redaction.length ? { redaction: [...p.redaction] } : {}),
    });
  }

  /** Each node of a group that was lost (and when) or refused the probe (and why). */
  private groupNotes(g: ProbeGroup): string[] {
    const notes: string[] = [];
    for (const p of g.members.map((m) => this.probes.get(m))) {
      if (p?.status.why_ended === "node_down") notes.push(`${p.node} lost: ${p.status.detail ?? "node down"}`);
      if (p?.status.why_ended === "refused") notes.push(`not armed on ${p.node}: ${p.status.detail ?? "refused"}`);
    }
    return notes;
  }

  /** A group's rows: its members' tables one after the other (each row names its node), with the group's counts. */
  /** A summary's rows as the `summary` table. */
  private summaryTable(m: SummaryMerge, meta: Omit<TableMeta, "kind" | "schemaVersion">): Promise<object> {
    const rows = m.rows();
    const columns = Object.fromEntries(columnNames("summary").map((c) => [c, rows.map((r) => r[c as keyof SummaryRow])]));
    const per = m.bytesPerSketch();
    const note =
      `percentiles within ${+(m.alpha * 100).toFixed(3)}% (relative), per ${m.everyMs / 1000} s interval` +
      (per !== null ? `; shipped ${(m.shipped.bytes / 1024).toFixed(1)} KB, ${Math.round(per).toLocaleString("en")} bytes per function per interval` : "");
    const unread = m.unreadable.events ? [`${m.unreadable.events} interval${m.unreadable.events === 1 ? "'s" : "s'"} sketches from the nodes could not be read, so their rows are missing: ${m.unreadable.reason}`] : [];
    return columnTable("summary", columns as never, { ...meta, notes: [...(meta.notes ?? []), note, sampledNote(rows), ...unread] });
  }

  private async groupTable(g: ProbeGroup): Promise<object> {
    const status = this.groupStatus(g.name);
    if (g.summary) {
      const notes = this.groupNotes(g);
      return this.summaryTable(g.summary, {
        probe: g.name, node: status.node, target: g.target, seen: status.seen, dropped: status.dropped, state: status.state,
        whyEnded: status.why_ended, detail: status.state === "ended" ? status.detail : null, ...(notes.length ? { notes } : {}),
      });
    }
    const tables = (await Promise.all(g.members.filter((m) => this.probes.has(m)).map((m) => this.table(m)))) as { concat(...t: object[]): object }[];
    const meta = tableMeta(tables[0])!;
    const table = tables.length > 1 ? tables[0].concat(...tables.slice(1)) : tables[0];
    const notes = this.groupNotes(g);
    setTableMeta(table, {
      ...meta,
      probe: g.name, node: status.node, target: g.target, seen: status.seen, dropped: status.dropped,
      state: status.state, whyEnded: status.why_ended, detail: status.state === "ended" ? status.detail : null,
      ...(notes.length ? { notes } : {}),
    });
    return table;
  }
}

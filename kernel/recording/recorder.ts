/**
 * `%record DIR`: everything the kernel gets from nodes, saved as the notebook runs (kernel/recording/format.ts
 * says what goes where). Each bridge is teed (recordingBridge.ts): requests, replies and events go to the
 * timeline in the order they happened; a probe's rows go to its Arrow file once it has ended (and whatever it
 * has so far at each save), a snapshot's table to its own Arrow file, an evaluation's result to JSON. The folder
 * is brought up to date as each cell starts and when the kernel shuts down, so a recording is whole after the
 * notebook's last cell even if the kernel is then killed.
 */
import { appendFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Bridge } from "../beam/bridge";
import { decodeBatch } from "../beam/batchDecoder";
import { Atom, encode, ErlMap, Fun, List, Tuple, type ErlTerm } from "../beam/etf";
import type { NamingMode } from "../beam/session";
import { toJs } from "../beam/term";
import { formatTerm } from "../beam/termFormat";
import { kernelVersion } from "../kernelInfo";
import { describePolicy } from "../redaction/policy";
import { unpackSketches } from "../analysis/packedSketches";
import { saveCapture } from "../tables/capture";
import type { SnapshotKind } from "../tables/schemas";
import { snapshotTable } from "../tables/tables";
import { FORMAT_VERSION, MANIFEST, TIMELINE, type Entry, type Manifest, type RequestEntry } from "./format";
import { RecordingBridge } from "./recordingBridge";
import { PICTURES, RecordedPictures } from "./pictures";
import { CELLS, RecordedCells } from "./compiledCells";
import type { RecordingHost, Tape } from "./tape";

const pad = (n: number) => String(n).padStart(4, "0");
/** A recording's sub-folders: its evidence, and what it keeps besides (made by their own stores). */
const EVIDENCE = ["probes", "snapshots", "results"];
const KEPT = [PICTURES, CELLS];

/** A probe armed while recording: its file, its rows so far, and what the manifest says of it. */
interface ProbeFile {
  file: string;
  rows: number;
  kind: string;
  node: string;
  target: string;
  spec: Record<string, unknown>;
}

/** Ops that are not the notebook's evidence: completion asks while the user types, between cells. */
// (`redact` hands the policy to the bridge: the manifest states the policy, and a replay has no node to give it to.)
const NOT_RECORDED = new Set(["complete", "redact"]);

export class Recorder implements Tape {
  readonly mode = "record";
  private readonly entries: Entry[] = [];
  private written = 0;
  private seq = 0;
  private magics = 0;
  private readonly requests = new Map<number, RequestEntry>();
  private readonly manifestRequests: Manifest["requests"] = [];
  private readonly nodes = new Map<string, Manifest["nodes"][number]>();
  /** Each probe's file (by the name it has now: a name is free again after %drop) and its rows so far. */
  private readonly probeFiles = new Map<string, ProbeFile>();
  private readonly probesDone: Manifest["probes"] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly start = new Date();
  private readonly startPolicy: unknown;
  readonly pictures: RecordedPictures;
  readonly cells: RecordedCells;

  constructor(
    readonly dir: string,
    private readonly state: RecordingHost,
  ) {
    // A recording is the evidence of one run: what an earlier run left here goes.
    mkdirSync(dir, { recursive: true });
    for (const sub of [...EVIDENCE, ...KEPT]) rmSync(path.join(dir, sub), { recursive: true, force: true });
    for (const f of [MANIFEST, TIMELINE]) rmSync(path.join(dir, f), { force: true });
    for (const sub of EVIDENCE) mkdirSync(path.join(dir, sub));
    writeFileSync(path.join(dir, TIMELINE), "");
    this.pictures = new RecordedPictures(dir, "record");
    this.cells = new RecordedCells(dir, "record");
    this.startPolicy = state.redaction;
    state.onCellStart(() => void this.save());
    state.shutdown.add(() => this.save());
  }

  readonly bridgeFor = (mode: NamingMode) => new RecordingBridge(new Bridge(), mode, this);

  magicStarted(): void {
    this.magics++;
  }

  /** A request on its way to the bridge; returns its number, or undefined for requests not recorded. */
  request(mode: NamingMode, op: string, args: Record<string, unknown>): number | undefined {
    if (NOT_RECORDED.has(op)) return undefined;
    const seq = ++this.seq;
    const asking = this.state.asking;
    // The cookie is never written anywhere: not kept, not even as a placeholder that says it was there.
    const { cookie: _cookie, ...kept } = args;
    const entry: RequestEntry = {
      t: "request", m: this.magics, seq, at: new Date().toISOString(), mode, op, args: jsonArgs(kept),
      magic: asking?.magic ?? null,
      ...(asking?.cell !== undefined ? { cell: asking.cell } : {}),
      ...(asking?.cellId ? { cellId: asking.cellId } : {}),
    };
    this.entries.push(entry);
    this.requests.set(seq, entry);
    const summary: Manifest["requests"][number] = { seq, at: entry.at, op, magic: entry.magic };
    if (typeof args.node === "string") summary.node = args.node;
    if (entry.cell !== undefined) summary.cell = entry.cell;
    if (entry.cellId) summary.cellId = entry.cellId;
    this.manifestRequests.push(summary);
    if (op === "probe_arm") {
      const spec = args.spec as { target?: string } | undefined;
      this.probeFiles.set(String(args.name), {
        file: `probes/${pad(seq)}-${safeName(String(args.name))}.arrow`, rows: 0, kind: String((args.kind as Atom)?.name ?? args.kind),
        node: String(args.node), target: String(spec?.target ?? ""), spec: entry.args.spec as Record<string, unknown>,
      });
    }
    return seq;
  }

  reply(seq: number | undefined, value: ErlTerm): void {
    if (seq === undefined) return;
    const req = this.requests.get(seq)!;
    const summary = this.manifestRequests.find((r) => r.seq === seq)!;
    if (req.op === "snapshot") {
      const kind = (req.args.kind as string) as SnapshotKind;
      const file = `snapshots/${pad(seq)}-${kind}.arrow`;
      this.entries.push({ t: "reply", m: this.magics, seq, ok: true, file });
      summary.answer = file;
      const node = String(req.args.node);
      this.later(snapshotTable(value as Uint8Array, kind, node).then((table) => saveCapture(table, path.join(this.dir, file), kind)));
      return;
    }
    this.entries.push({ t: "reply", m: this.magics, seq, ok: true, etf: b64(recordable(value)) });
    if (req.op === "connect" || req.op === "start_node") {
      const n = toJs(value) as Manifest["nodes"][number];
      this.nodes.set(n.node, { node: n.node, otp_release: n.otp_release, elixir_version: n.elixir_version, language: n.language, owned: n.owned });
    } else if (req.op === "eval" || req.op === "process") {
      const file = `results/${pad(seq)}-${req.op === "eval" ? String(req.args.language) : String(req.args.what)}.json`;
      summary.answer = file;
      writeFileSync(path.join(this.dir, file), JSON.stringify(resultJson(req, value), null, 1));
    }
  }

  fail(seq: number | undefined, e: Error): void {
    if (seq === undefined) return;
    this.entries.push({ t: "reply", m: this.magics, seq, ok: false, message: e.message });
    this.manifestRequests.find((r) => r.seq === seq)!.error = e.message;
  }

  /** An event from a bridge, before the session sees it. */
  event(mode: NamingMode, type: string, payload: ErlTerm): void {
    if (type === "probe_batch" && payload instanceof ErlMap) {
      const name = String(toJs(payload.get("name")!));
      const probe = this.probeFiles.get(name);
      const batch = decodeBatch(payload.get("batch") as Uint8Array);
      if (!probe) return;
      this.entries.push({ t: "event", m: this.magics, mode, type, probe: name, file: probe.file, from: probe.rows, rows: batch.count, dropped: batch.dropped });
      probe.rows += batch.count;
      return;
    }
    this.entries.push({ t: "event", m: this.magics, mode, type, etf: b64(payload), data: readable(type, payload) });
  }

  /** After the session has seen an event: a probe that ended has all its rows, so its file is written. */
  afterEvent(type: string, payload: ErlTerm): void {
    if (type !== "probe_status") return;
    const s = toJs(payload) as { name: string; state: string };
    if (s.state !== "ended") return;
    const probe = this.probeFiles.get(s.name);
    if (!probe) return;
    this.probeFiles.delete(s.name);
    this.later(this.writeProbe(s.name, probe).then((rows) => this.probesDone.push(probeEntry(s.name, probe, rows))));
  }

  private async writeProbe(name: string, probe: { file: string }): Promise<number> {
    const table = (await this.state.beam.probes.table(name)) as import("../analysis/aq").ColumnTable;
    saveCapture(table, path.join(this.dir, probe.file));
    return table.numRows();
  }

  private later(p: Promise<unknown>): void {
    const tracked = p.catch((e) => this.entries.push({ t: "event", m: this.magics, mode: "short", type: "recording_error", data: String((e as Error).message) }));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Bring the folder up to date: files being written, the timeline so far, probes still armed, the manifest. */
  async save(): Promise<void> {
    const armed = [...this.probeFiles.entries()].filter(([name]) => this.state.beamStarted && this.state.beam.probes.get(name));
    await Promise.all(armed.map(([name, probe]) => this.writeProbe(name, probe).catch(() => 0)));
    await Promise.all([...this.pending]);
    const fresh = this.entries.slice(this.written);
    if (fresh.length) appendFileSync(path.join(this.dir, TIMELINE), fresh.map((e) => JSON.stringify(e)).join("\n") + "\n");
    this.written = this.entries.length;
    writeFileSync(path.join(this.dir, MANIFEST), JSON.stringify(this.manifest(armed.map(([name, p]) => probeEntry(name, p, p.rows))), null, 1) + "\n");
  }

  private manifest(armed: Manifest["probes"]): Manifest {
    const files: Record<string, number> = {};
    for (const sub of [".", ...EVIDENCE, ...KEPT]) {
      for (const f of readdirSync(path.join(this.dir, sub))) {
        const rel = sub === "." ? f : `${sub}/${f}`;
        if (rel === MANIFEST || statSync(path.join(this.dir, rel)).isDirectory()) continue;
        files[rel] = statSync(path.join(this.dir, rel)).size;
      }
    }
    const policy = this.state.redaction;
    const note = policy === this.startPolicy ? describePolicy(policy) : `${describePolicy(policy)} (at the start: ${describePolicy(this.startPolicy as typeof policy)})`;
    return {
      format: FORMAT_VERSION,
      kernel: { name: "elixirlumin", version: kernelVersion() },
      recorded: { start: this.start.toISOString(), end: new Date().toISOString() },
      nodes: [...this.nodes.values()],
      redaction: { policy, note },
      requests: this.manifestRequests,
      probes: [...this.probesDone, ...armed],
      files,
      total_bytes: Object.values(files).reduce((a, b) => a + b, 0),
    };
  }
}

function probeEntry(name: string, p: ProbeFile, rows: number): Manifest["probes"][number] {
  return { name, kind: p.kind, node: p.node, target: p.target, spec: p.spec, file: p.file, rows };
}

const b64 = (t: unknown) => Buffer.from(encode(t)).toString("base64");

function safeName(name: string): string {
  return name.replace(/[^\w-]/g, "_");
}

/** Arguments as JSON: atoms as their names, binaries as text. */
function jsonArgs(args: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(args, (_k, v) => (v instanceof Atom ? v.name : v instanceof Uint8Array ? Buffer.from(v).toString("utf8") : typeof v === "bigint" ? Number(v) : v)));
}

/**
 * A reply as it can be written back: a fun made in a cell (`fn x -> x end`) has no external form the kernel
 * can write, so it is kept as its text (the cell shows the node's own text of the result either way).
 */
function recordable(t: ErlTerm): ErlTerm {
  if (t instanceof Fun && !t.exported) return Buffer.from(formatTerm(t, "elixir"));
  if (t instanceof Tuple) return new Tuple(t.elements.map(recordable));
  if (t instanceof List) return new List(t.elements.map(recordable), t.tail);
  if (t instanceof ErlMap) return new ErlMap(t.entries.map(([k, v]) => [recordable(k), recordable(v)]));
  return t;
}

/** An evaluation's or a process look's result, readable. */
function resultJson(req: RequestEntry, value: ErlTerm): Record<string, unknown> {
  const base = { seq: req.seq, magic: req.magic, node: req.args.node };
  if (req.op === "eval" && value instanceof ErlMap) {
    return { ...base, language: req.args.language, code: req.args.code, text: Buffer.from(value.get("text") as Uint8Array).toString("utf8"), output_cut: Number(value.get("output_cut") ?? 0) };
  }
  return { ...base, target: req.args.target, what: req.args.what, text: formatTerm(value, "elixir") };
}

/** What an event says, for people reading the timeline. */
function readable(type: string, payload: ErlTerm): unknown {
  if (type === "eval_output" && payload instanceof ErlMap) return { id: Number(payload.get("id")), text: Buffer.from(payload.get("text") as Uint8Array).toString("utf8") };
  // A summary's sketches arrive packed: each function's figures, and how many buckets it used.
  const packed = type === "probe_sketches" && payload instanceof ErlMap ? payload.get("sketches") : undefined;
  if (packed instanceof Uint8Array && payload instanceof ErlMap) {
    try {
      const e = toJs(new ErlMap(payload.entries.filter(([k]) => !(k instanceof Atom && k.name === "sketches")))) as Record<string, unknown>;
      return { ...e, sketches: unpackSketches(packed).map(({ buckets, ...f }) => ({ ...f, buckets: buckets.length })) };
    } catch {
      return undefined;
    }
  }
  try {
    return toJs(payload);
  } catch {
    return undefined;
  }
}

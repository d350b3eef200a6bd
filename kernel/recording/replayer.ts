/**
 * `%replay DIR`: the notebook re-runs with no node at all. The session's bridges are replay bridges
 * (replayBridge.ts) that answer each request from the recording, in the order the notebook made them, and
 * send what the nodes sent between them — statuses, batches (rows read back from the probes' Arrow files),
 * printed output — so every magic, table, chart and analysis runs the code it runs live.
 *
 * Each request must be the one recorded at that point: the same kind of request, asked by the same magic as
 * written. Anything else means the notebook changed since it was recorded, and the cell fails with an error
 * that names it and what the recording holds there — never a wrong answer.
 *
 * The recording is checked whole before the first cell runs: a missing manifest, a format newer than this
 * kernel reads, a damaged timeline or a truncated Arrow file is an error at `%replay`, saying which file.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Atom, decode, ErlMap, type ErlTerm } from "../beam/etf";
import { BridgeError } from "../beam/bridge";
import type { NamingMode } from "../beam/session";
import type { ColumnTable } from "../analysis/aq";
import { loadCapture } from "../tables/capture";
import { FORMAT_VERSION, MANIFEST, TIMELINE, type Entry, type EventEntry, type Manifest, type ReplyEntry, type RequestEntry } from "./format";
import { ReplayBridge } from "./replayBridge";
import { RecordedPictures } from "./pictures";
import { RecordedCells } from "./compiledCells";
import { batchOf } from "./tableBatch";
import type { RecordingHost, Tape } from "./tape";

export class RecordingError extends Error {
  override readonly name = "RecordingError";
}

interface Asked {
  resolve: (v: ErlTerm) => void;
  reject: (e: Error) => void;
  /** The eval id the kernel gave this request (its printed output is sent under it). */
  evalId?: number;
}

export class Replayer implements Tape {
  readonly mode = "replay";
  readonly manifest: Manifest;
  private readonly entries: Entry[];
  private readonly tables = new Map<string, { table: ColumnTable; kind: string; types: Record<string, number> }>();
  private readonly bridges = new Map<NamingMode, ReplayBridge>();
  private readonly asked = new Map<number, Asked>();
  private readonly evalIds = new Map<number, number>();
  /** Index of the next timeline entry to play. */
  private cursor = 0;
  private pumping = false;
  /** Resolved each time the pump stops, having played all it could. */
  private settledWaiters: (() => void)[] = [];
  private answered = 0;
  private lastNotedCell: unknown = Symbol("none");
  private readonly modesUsed = new Set<NamingMode>();
  /** Magics started since %replay (as `m` counts them in the timeline). */
  private magics = 0;
  readonly pictures: RecordedPictures;
  readonly cells: RecordedCells;

  constructor(
    readonly dir: string,
    private readonly state: RecordingHost,
  ) {
    this.manifest = readManifest(dir);
    this.entries = readTimeline(dir);
    this.pictures = new RecordedPictures(dir, "replay");
    this.cells = new RecordedCells(dir, "replay");
    for (const e of this.entries) {
      const file = e.t === "event" ? e.file : e.t === "reply" ? e.file : undefined;
      if (file && !this.tables.has(file)) this.tables.set(file, readTable(dir, file));
    }
  }

  readonly bridgeFor = (mode: NamingMode) => {
    const b = new ReplayBridge(mode, this);
    this.bridges.set(mode, b);
    return b;
  };

  magicStarted(): void {
    this.magics++;
    this.pump();
  }

  /** Has the replay asked anything of this naming mode's bridge yet? (A live one is running from then on.) */
  used(mode: NamingMode): boolean {
    return this.modesUsed.has(mode);
  }

  /** How many requests the recording holds. */
  get requestCount(): number {
    return this.manifest.requests.length;
  }

  /** A request from the session: answered when the timeline reaches its reply. */
  ask(mode: NamingMode, op: string, args: Record<string, unknown>): Promise<ErlTerm> {
    // Completion asks while the user types; it was never recorded, and offers nothing in a replay.
    if (op === "complete") return Promise.resolve(decode(Buffer.from([131, 106])));
    // The redaction policy goes to a bridge before it attaches a node; it was not recorded, and no node is here.
    if (op === "redact") return Promise.resolve(0);
    const asking = this.state.asking;
    const next = this.entries.find((e) => e.t === "request" && !this.asked.has(e.seq)) as RequestEntry | undefined;
    const here = describeCell(asking?.cell, asking?.magic ?? null);
    if (!next) {
      return Promise.reject(new RecordingError(
        `${here} asks a node for more than ${this.dir} holds: the recording ends after request ${this.requestCount}. ` +
          "The notebook changed since it was recorded: run it live with %record to record it again.",
      ));
    }
    const magic = asking?.magic ?? null;
    if (next.op !== op || next.magic !== magic) {
      return Promise.reject(new RecordingError(this.divergence(next, here, op)));
    }
    this.note(asking?.cell);
    this.modesUsed.add(mode);
    return new Promise<ErlTerm>((resolve, reject) => {
      this.asked.set(next.seq, { resolve, reject, evalId: typeof args.eval_id === "number" ? args.eval_id : undefined });
      if (typeof next.args.eval_id === "number" && typeof args.eval_id === "number") this.evalIds.set(next.args.eval_id, args.eval_id);
      this.pump();
    });
  }

  private divergence(next: RequestEntry, here: string, op: string): string {
    const recorded = `${describeCell(next.cell, next.magic)} (${next.op})`;
    const first = next.seq === 1;
    if (first) {
      return `${this.dir} is the recording of another notebook: its first request to a node was ${recorded}, ` +
        `and this notebook's is ${here} (${op}). Replay a notebook with its own recording, or record this one with %record.`;
    }
    return `${here} does not match the recording in ${this.dir}: request ${next.seq} there was made by ${recorded}. ` +
      "The notebook changed since it was recorded (a cell inserted, removed or edited): undo the change, or run it live with %record to record it again.";
  }

  /** One line in each replayed cell, saying that its node magics were answered from the recording. */
  private note(cell: unknown): void {
    if (cell === this.lastNotedCell) return;
    this.lastNotedCell = cell;
    this.state.output?.stream("stderr", `${REPLAYED_NOTE} ${this.dir}\n`);
  }

  /** Resolves once the timeline has been played as far as it can be now (until the next request or magic). */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.settledWaiters.push(resolve);
      this.pump();
    });
  }

  /** Play the timeline until it reaches a request the kernel has not made yet. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      if (this.playOn()) return this.pump();
      for (const w of this.settledWaiters.splice(0)) w();
    });
  }

  /** Play what can be played now; true when it stopped at a reply (the kernel acts on it, then play goes on). */
  private playOn(): boolean {
    while (this.cursor < this.entries.length) {
      const e = this.entries[this.cursor];
      if (e.t === "request") {
        if (!this.asked.has(e.seq)) return false;
        this.cursor++;
      } else if (e.t === "reply") {
        this.cursor++;
        this.answer(e);
        // Let the kernel act on the answer (it may make the next request at once) before playing on.
        return true;
      } else {
        // What came after a later magic started waits for it — unless a request asked earlier still waits
        // for its reply past it (a reply that came late, live).
        if (e.m > this.magics && !this.awaiting()) return false;
        this.cursor++;
        this.play(e);
      }
    }
    return false;
  }

  /** Is a request asked of the replay still unanswered? */
  private awaiting(): boolean {
    return this.answered < this.asked.size;
  }

  private answer(e: ReplyEntry): void {
    this.answered++;
    const a = this.asked.get(e.seq);
    if (!a) return;
    if (!e.ok) return a.reject(new BridgeError(e.message ?? "the node refused the request"));
    if (e.file) {
      const { table, kind, types } = this.tables.get(e.file)!;
      return a.resolve(batchOf(table, kind, 0, table.numRows(), 0, types));
    }
    a.resolve(decode(Buffer.from(e.etf ?? "", "base64")));
  }

  private play(e: EventEntry): void {
    const bridge = this.bridges.get(e.mode);
    if (!bridge) return;
    if (e.type === "probe_batch" && e.file) {
      const { table, kind, types } = this.tables.get(e.file)!;
      const batch = batchOf(table, kind, e.from ?? 0, e.rows ?? 0, e.dropped ?? 0, types);
      bridge.emit("event", "probe_batch", new ErlMap([[new Atom("name"), Buffer.from(e.probe ?? "")], [new Atom("batch"), batch]]));
      return;
    }
    if (!e.etf) return;
    let payload = decode(Buffer.from(e.etf, "base64"));
    if (e.type === "eval_output" && payload instanceof ErlMap) {
      const id = this.evalIds.get(Number(payload.get("id")));
      if (id !== undefined) payload = new ErlMap(payload.entries.map(([k, v]) => [k, k instanceof Atom && k.name === "id" ? id : v]));
    }
    bridge.emit("event", e.type, payload);
  }
}

/** The line each replayed cell shows (on stderr), so a reader knows no node was asked. */
export const REPLAYED_NOTE = "↺ replayed: answered from the recording in";

function describeCell(cell: number | undefined, magic: string | null): string {
  const what = magic === null ? "a request made outside any magic" : `\`${magic.split("\n")[0]}${magic.includes("\n") ? " …" : ""}\``;
  return cell === undefined ? what : `cell [${cell}] ${what}`;
}

function readManifest(dir: string): Manifest {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new RecordingError(`${dir} is not a folder: %replay takes the folder %record wrote (with its manifest.json).`);
  }
  const file = path.join(dir, MANIFEST);
  if (!existsSync(file)) {
    throw new RecordingError(`${dir} has no ${MANIFEST}, so it is not a recording (or it was copied only in part): %replay takes the folder %record wrote, whole.`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, "utf8")) as Manifest;
  } catch (e) {
    throw new RecordingError(`${file} is not valid JSON (${(e as Error).message}): the recording is damaged; copy it again, or record it again with %record.`);
  }
  if (typeof m.format !== "number" || !Array.isArray(m.requests)) {
    throw new RecordingError(`${file} is not an ElixirLumin recording's manifest (it has no format version or no requests).`);
  }
  if (m.format > FORMAT_VERSION) {
    throw new RecordingError(
      `${dir} was recorded in format ${m.format} (by ElixirLumin ${m.kernel?.version ?? "?"}), and this kernel (${m.kernel ? "" : ""}format ${FORMAT_VERSION}) reads format ${FORMAT_VERSION} and older: ` +
        "update ElixirLumin to replay it.",
    );
  }
  return m;
}

function readTimeline(dir: string): Entry[] {
  const file = path.join(dir, TIMELINE);
  if (!existsSync(file)) throw new RecordingError(`${dir} has no ${TIMELINE}: the recording is incomplete; copy it again, or record it again with %record.`);
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  return lines.map((l, i) => {
    try {
      return JSON.parse(l) as Entry;
    } catch {
      throw new RecordingError(`${file} is damaged at line ${i + 1} (not a whole JSON line; truncated?): copy the recording again, or record it again with %record.`);
    }
  });
}

function readTable(dir: string, file: string): { table: ColumnTable; kind: string; types: Record<string, number> } {
  const full = path.join(dir, file);
  if (!existsSync(full)) throw new RecordingError(`${full} is missing from the recording: copy the whole folder, or record it again with %record.`);
  try {
    const { table, meta, types } = loadCapture(full);
    return { table, kind: meta.kind, types };
  } catch (e) {
    throw new RecordingError(`${full} is not a whole Arrow file (${(e as Error).message}); it may have been cut short in a copy: copy the recording again, or record it again with %record.`);
  }
}

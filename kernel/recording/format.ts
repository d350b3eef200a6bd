/**
 * The recording's format: a plain folder a colleague can zip, commit beside the notebook, or open in pandas,
 * polars or DuckDB.
 *
 *   manifest.json      what was recorded: format and kernel versions, the nodes (OTP, Elixir), the time range,
 *                      the redaction policy in force, the files and their sizes, and every request the
 *                      notebook made of a node, in order, with the cell and the magic that asked
 *   timeline.jsonl     one JSON object a line, in the order they happened: requests, their replies, and what
 *                      the nodes sent between them (probe statuses, batches, printed output, nodes lost)
 *   probes/SEQ-NAME.arrow      each probe's table (Arrow IPC, terms as raw bytes, as %capture saves it); the
 *                              timeline's batches say how many of its rows came when
 *   snapshots/SEQ-KIND.arrow   each %top, %tree, %apps, %ets result, as a table
 *   results/SEQ-OP.json        each %elixir / %erlang result and %state / %info term, as text (and raw bytes)
 *   pictures/HASH.WxH.png      each chart's picture as the notebook showed it, by a hash of its spec, so a replay
 *                              shows it without drawing it again (kernel/recording/pictures.ts); not evidence
 *   cells/HASH.json            each TypeScript cell as the notebook compiled it, by a hash of the cell, its
 *                              declarations and the kernel's version, so a replay runs it without waiting for the
 *                              compiler (kernel/recording/compiledCells.ts); not evidence
 *
 * Replies and events other than rows travel in the timeline as the bridge sent them (the Erlang external term
 * format, base64), so a replay goes through exactly the code a live run does.
 */
import type { NamingMode } from "../beam/session";

/** Bumped when a reader of the previous format could not read the new one. */
export const FORMAT_VERSION = 1;

export const MANIFEST = "manifest.json";
export const TIMELINE = "timeline.jsonl";

/** A request the kernel made of a bridge, as the timeline keeps it. */
/** Every entry's `m`: how many magics had started (since %record) when it happened. */
interface Stamped {
  m: number;
}

export interface RequestEntry extends Stamped {
  t: "request";
  seq: number;
  at: string;
  mode: NamingMode;
  op: string;
  /** The request's arguments as JSON (a cookie is never kept). */
  args: Record<string, unknown>;
  /** The magic that asked, as written (a `%%elixir` cell with its code), or null (asked outside a magic). */
  magic: string | null;
  cell?: number;
  cellId?: string;
}

export interface ReplyEntry extends Stamped {
  t: "reply";
  seq: number;
  ok: boolean;
  /** The reply term (external format, base64); for a snapshot, `file` holds it as a table instead. */
  etf?: string;
  file?: string;
  /** The error's message, for a refused request. */
  message?: string;
}

export interface EventEntry extends Stamped {
  t: "event";
  mode: NamingMode;
  type: string;
  /** The event's payload (external format, base64); a probe batch is `probe`/`file`/`from`/`rows` instead. */
  etf?: string;
  probe?: string;
  file?: string;
  from?: number;
  rows?: number;
  dropped?: number;
  /** What the payload says, readable (statuses, nodes lost): for people; replay reads `etf`. */
  data?: unknown;
}

export type Entry = RequestEntry | ReplyEntry | EventEntry;

/** The redaction policy the recording was made under. */
export interface RecordedRedaction {
  policy: unknown;
  note: string;
}

export interface Manifest {
  format: number;
  kernel: { name: string; version: string };
  recorded: { start: string; end: string };
  nodes: { node: string; otp_release: string; elixir_version: string | null; language: string; owned: boolean }[];
  redaction: RecordedRedaction;
  /** Every request, in the order the notebook asked. */
  requests: { seq: number; at: string; op: string; node?: string; magic: string | null; cell?: number; cellId?: string; answer?: string; error?: string }[];
  /** Each probe armed: its spec (budgets, flags) as it was sent, its table's file and its row count. */
  probes: { name: string; kind: string; node: string; target: string; spec: Record<string, unknown>; file: string; rows: number }[];
  /** Each file of the recording and its size in bytes (the manifest aside). */
  files: Record<string, number>;
  total_bytes: number;
}

/**
 * The private channel between the kernel and its bridge node, and the columnar batch format.
 *
 * Channel. The kernel spawns the bridge (`elixir_agent`, module `lumin_bridge`) as a child process with two
 * extra pipes: the bridge reads requests on fd 3 and writes replies and events on fd 4
 * (`open_port({fd, 3, 4}, [{packet, 4}, binary, eof])`). Pipes are private to the two processes, so no other
 * user or process can open the channel, and EOF on fd 3 tells the bridge its kernel is gone (it then
 * cleans every target and halts). Each frame is a 4-byte big-endian length and one term in the Erlang
 * external term format (`term_to_binary`).
 *
 * Kernel → bridge:  {request, Id :: integer(), Op :: atom(), Args :: #{atom() => term()}}
 * Bridge → kernel:  {reply, Id, ok, Value}
 *                   {reply, Id, error, #{message := binary(), kind := atom()}}
 *                   {event, Type :: atom(), Payload :: map()}
 *
 * Strings travel as UTF-8 binaries. Node names travel as binaries (`<<"app@host">>`); the bridge turns them
 * into atoms on its own node only. Nothing user-written becomes an atom on a target: module and function
 * names are resolved there with `binary_to_existing_atom`, and a name that is not an atom there is "not
 * loaded" by definition.
 */

import type { ProbeKind, ProbeState, SnapshotKind, WhyEnded } from "../tables/schemas";
import type { ErlTerm } from "./etf";

/** Ops the bridge answers, with their argument maps. Keys are atoms on the Erlang side. */
export interface BridgeRequests {
  /**
   * Connect to a node (hidden), load the agent there, start its owner process and its evaluator. Refused,
   * with nothing changed on the node, when another kernel's agent runs there (the reply says whose).
   * `again`: attach again to a node that was lost, with the cookie the bridge kept for it.
   */
  connect: { node: string; cookie?: string | null; timeout_ms: number; again?: boolean; cookie_of?: string };
  /**
   * The nodes an attached node is connected to, visible and hidden apart (ElixirLumin bridges left out). A peer
   * is then attached with `connect`'s `cookie_of`: the cookie set for the node it was found through.
   */
  cluster: { node: string };
  /** Start a local node owned by this kernel; `app_dir` is a Mix project to compile and run. */
  start_node: { name: string; app_dir: string | null; timeout_ms: number };
  /** Detach: disarm every probe there, stop agent processes, purge agent modules, disconnect. */
  disconnect: { node: string };
  nodes: Record<string, never>;
  /**
   * Evaluate code on a node (Erlang works on every node; Elixir needs Elixir on the node), in a process that
   * is killed on `eval_cancel`, after `timeout_ms`, on detach and when the bridge goes. Bindings stay on the
   * node. Replies #{value, text, output_cut}; what the code prints comes first as `eval_output` events.
   */
  eval: { node: string; language: "elixir" | "erlang"; code: string; eval_id: number; timeout_ms: number };
  /** Interrupt: kill the evaluation `eval_id` on the node; its `eval` then fails with "interrupted: …". */
  eval_cancel: { node: string; eval_id: number };
  /** Names of loaded modules (prefix match), or of a module's exported functions, for completion. */
  complete: { node: string; module: string | null; prefix: string };
  probe_arm: { node: string; name: string } & ProbeArm;
  probe_disarm: { name: string | null; all: boolean };
  probe_list: Record<string, never>;
  /** Immediate snapshots (issue 4): each replies with a batch binary in the columnar format below. */
  snapshot: { node: string; kind: SnapshotKind; options: Record<string, unknown> };
  /** Current state of a process (`:sys.get_state`) or its process_info, as terms. */
  process: { node: string; target: string; what: "state" | "info" };
  /**
   * The redaction policy (kernel/redaction/policy.ts): set on every attached node's agent now, and given to
   * each agent started later by this bridge. Replies the number of nodes that have it.
   */
  redact: { enabled: boolean; keys: string[] };
  /**
   * Replay recorded rows on the shadow node (elixir_agent/lib/lumin_bridge/shadow.ex), with the code of
   * `node` fetched from it (the node is only read from). Replies {batch, notes, started_ms, ms}: `batch` holds
   * the `whatif` table's columns (the columnar format below).
   */
  whatif: WhatIfRequest;
  /** Stop the shadow node (an interrupted replay); the next what-if starts a new one. */
  whatif_cancel: Record<string, never>;
  /**
   * Compile a generated test module on the shadow node and run it against `modules`' code fetched from the
   * node. Replies {total, failures, output, notes}.
   */
  suggest_tests: { node: string; rows: WhatIfCallRow[]; module: string | null; examples: number; header: string[] };
}

/** Call rows: [row, start_us, module, function, args, outcome, result, exception_class, exception_reason, duration_us]. */
export type WhatIfCallRow = [number, number, string, string, Uint8Array | null, string | null, Uint8Array | null, string | null, Uint8Array | null, number | null];
/** State rows: [row, seq, time_us, kind, message, state_before, state_after, reply, duration_us, state_name_before, state_name_after]. */
export type WhatIfStateRow = [number, number, number, string, Uint8Array | null, Uint8Array | null, Uint8Array | null, Uint8Array | null, number | null, Uint8Array | null, Uint8Array | null];

export interface WhatIfRequest {
  node: string;
  kind: "calls" | "state";
  rows: WhatIfCallRow[] | WhatIfStateRow[];
  /** Source of a function of the recorded argument list (calls) or state (state), in the node's language. */
  args_fun: string | null;
  state_fun: string | null;
  /** Replacement code (`%%whatif`), compiled on the shadow node only. */
  code: string | null;
  code_language: "elixir" | "erlang";
  timeout_ms: number;
  /** State replays: the callback module (`--module`), else found from `pid` on the node. */
  module: string | null;
  pid: string | null;
}

/** The tests written (`code`) and how they ran on the shadow node against the recorded code. */
export interface SuggestTestsReply {
  code: string;
  language: "elixir" | "erlang";
  module: string;
  /** Tests written (one per behaviour), and the recorded calls they were made from. */
  tests: number;
  calls: number;
  /** Why recorded calls were left out ("3 recorded calls left out: a pid is in the call …"). */
  left_out: string[];
  total: number;
  failures: number;
  output: string;
  notes: string[];
}

export interface WhatIfReply {
  batch: Uint8Array;
  notes: string[];
  /** How long the shadow node took to start, when this request started it. */
  started_ms: number | null;
  ms: number;
}

export type BridgeOp = keyof BridgeRequests;

export type { ProbeKind, ProbeState, WhyEnded, SnapshotKind } from "../tables/schemas";

/** Every budget a probe has. Defaults live in one place: elixir_agent/src/lumin_budget.erl. */
export interface ProbeBudget {
  /** Events (for call probes: calls) after which the probe disarms. Default 10,000. */
  limit?: number;
  /** Milliseconds after which the probe disarms. Default 60,000. */
  time_ms?: number;
  /** Events per second above which the probe disarms. Default 20,000. */
  rate?: number;
  /** Allow limit, time_ms or rate above the safe range (1,000,000 events, 1 h, 100,000/s). */
  unsafe?: boolean;
  /** Terms larger than this many bytes are cut on the node (default 4096, 64 to 1,048,576). */
  cut_bytes?: number;
}

/** What every probe's spec carries besides its budgets. */
interface SpecBase extends ProbeBudget {
  /** What the user wrote, shown in `%probes`. */
  target: string;
}

export const LOG_LEVELS = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The spec of each kind of probe, as the agent reads it (`probe_arm`'s `spec`). */
export interface ProbeSpecs {
  calls: SpecBase & {
    /** Module as written in the node's terms (`Elixir.MyApp.Worker`, `lists`). */
    module: string;
    /** null: every function of the module. */
    function: string | null;
    /** null: every arity. */
    arity: number | null;
    /** Several functions in one probe (`M1.f/1,M2.g/2`); module/function/arity then name the first. */
    functions?: { module: string; function: string | null; arity: number | null }[];
    /** Durations without results: the VM copies no return value (`--no-result`). */
    no_result: boolean;
    /** An argument pattern with an optional guard, Elixir or Erlang syntax. */
    match: string | null;
    /** Keep the arguments (`--args`). */
    args: boolean;
    /** Load the module if it is not loaded yet. */
    load: boolean;
    /**
     * `--summary`: no rows; per `every_ms`, each function's latency sketch (relative error `alpha`) is shipped
     * as a `probe_sketches` event (kernel/analysis/sketchMerge.ts), with its exact count of calls; at most about
     * `sample_rate` calls a second per function feed the sketch (default 1000; elixir_agent/src/lumin_sampler.erl).
     */
    summary?: { every_ms: number; alpha: number; sample_rate?: number };
  };
  /** `process`: a pid, a registered name, `app:NAME`, or `new` (processes spawned from now on). */
  messages: SpecBase & { process: string };
  /** `process`: as for messages; none: every process. */
  procs: SpecBase & { process?: string };
  /** `process`: the GenServer or gen_statem, by name or pid; `path`: only this part of its state (`--path`). */
  state: SpecBase & { process: string; path?: string[] };
  /** Event-name prefixes, dotted (`my_app.repo`). */
  telemetry: SpecBase & { prefixes: string[] };
  logs: SpecBase & { level: LogLevel };
  metrics: SpecBase & { interval_ms: number };
  /** `--counts`: the VM's call_time counters on these functions, read every `every_ms`. */
  counts: SpecBase & {
    module: string;
    function: string | null;
    arity: number | null;
    functions?: { module: string; function: string | null; arity: number | null }[];
    load: boolean;
    every_ms: number;
  };
}

/** A probe to arm: its kind and the spec of that kind. */
export type ProbeArm = { [K in ProbeKind]: { kind: K; spec: ProbeSpecs[K] } }[ProbeKind];
export type ProbeSpec = ProbeSpecs[ProbeKind];

export interface ConnectReply {
  node: string;
  otp_release: string;
  elixir_version: string | null;
  process_count: number;
  uptime_ms: number;
  /** `elixir` when the node runs Elixir, else `erlang`: the syntax its terms are shown in. */
  language: "elixir" | "erlang";
  /** Did this kernel start the node (`%node start`)? */
  owned: boolean;
}

export interface ClusterReply {
  visible: string[];
  hidden: string[];
}

/** A node that joined or left the cluster of an attached node, as that node's agent saw it. */
export interface ClusterChangeEvent {
  node: string;
  peer: string;
  change: "joined" | "left";
  type: "visible" | "hidden";
  at_ms: number;
}

/**
 * What each op replies with, as the kernel reads it (kernel/beam/session.ts): the decoded value for most; the
 * raw term for `eval` and `process` (shown in the node's syntax), the batch bytes for `snapshot`.
 */
export interface BridgeReplies {
  connect: ConnectReply;
  cluster: ClusterReply;
  start_node: ConnectReply;
  disconnect: "ok";
  nodes: ConnectReply[];
  eval: { value: ErlTerm; text: Uint8Array; output_cut: number };
  eval_cancel: "ok";
  complete: CompleteReply;
  probe_arm: ArmReply;
  probe_disarm: "ok";
  probe_list: ProbeStatusEvent[];
  snapshot: Uint8Array;
  process: ErlTerm;
  whatif: WhatIfReply;
  whatif_cancel: "ok";
  suggest_tests: SuggestTestsReply;
}

/** `probe_arm`'s reply: the functions a call probe matched, and warnings to show (e.g. tail recursion). */
export interface ArmReply {
  mfas?: string[];
  warnings?: string[];
}

/** `complete`'s reply: module names (Elixir ones without `Elixir.`), or a module's exports as `fun/arity`. */
export type CompleteReply = string[];

/** {event, probe_status, …}: sent when a probe arms, about every 250 ms while it is armed, and when it ends. */
export interface ProbeStatusEvent {
  name: string;
  node: string;
  kind: ProbeKind;
  target: string;
  state: ProbeState;
  seen: number;
  dropped: number;
  /** Events per second over the last interval. */
  rate: number;
  why_ended: WhyEnded | null;
  /** Human sentence for why it ended, e.g. "rate budget of 10000 calls/s exceeded (41872/s)". */
  detail: string | null;
}

/**
 * {event, probe_batch, #{name, node, kind, batch}}: `batch` is a binary holding `term_to_binary` of a
 * columnar batch, forwarded by the bridge untouched, so the kernel decodes it without the bridge ever
 * building per-event terms.
 *
 * Columnar batch (a map):
 *   #{kind := atom(), count := N, dropped := D, columns := #{ColumnName :: atom() => Column}}
 * where `dropped` counts the events dropped on the node since the previous batch, and Column is one of
 *   {f64, Bin}               N little-endian float64
 *   {i32, Bin}               N little-endian int32
 *   {dict, Values, IdxBin}   IdxBin holds N little-endian uint32 indexes into the list Values; a value is
 *                            an atom, binary, pid, port, reference or integer, shown as text; `undefined`
 *                            and `nil` are null
 *   {terms, Offsets, Data}   Offsets holds N+1 little-endian uint32; row i is Data[Offsets[i]..Offsets[i+1]),
 *                            itself a complete `term_to_binary` (starting with byte 131); empty = null
 *   {const, Value}           the same value on every row (shown like a dict value); a dict with one value
 *                            comes as this
 * Column names are those of kernel/tables/schemas.ts for that kind.
 */
export interface ProbeBatchEvent {
  name: string;
  node: string;
  kind: ProbeKind;
  batch: Uint8Array;
}

/**
 * {event, node_down, #{node, reason, at_ms}}: a node was lost (it stopped, was killed, or dropped the
 * connection), noticed by the bridge's watch on its agent; its probes have ended (the agent cleans itself).
 */
export interface NodeDownEvent {
  node: string;
  reason: string;
  /** When, in ms since the epoch. */
  at_ms: number;
}

/** {event, eval_output, #{id, text}}: what an evaluation printed, gathered (at most 100 kB a cell). */
export interface EvalOutputEvent {
  id: number;
  text: string;
}

/**
 * The contract between the agent, the kernel and the README, written once: the documented, versioned schema
 * of every table ElixirLumin produces, the states a probe goes through, and the reasons a probe ends.
 *
 * This file is the one place they are named. `node scripts/contract.js` (after a build) generates from it the
 * agent's Erlang header (elixir_agent/src/lumin_contract.hrl) and the README's "Tables" section;
 * test/unit/contract.test.ts fails when either, or the agent's sources, disagree with it. The kernel's batch
 * decoder (kernel/beam/batchDecoder.ts), the probe store and the chart and analysis library read it directly.
 * Changing a column means bumping that table's `version`.
 *
 * Conventions shared by every table:
 * - times are microseconds since the Unix epoch (`*_us`, float64; exact below 2^53), taken on the node;
 * - durations are microseconds (`duration_us`, float64);
 * - `node` is the node's name as text (`app@host`);
 * - pids are text in the usual `<0.123.0>` form, local to the node named in `node`;
 * - a `term` column holds a `Term`: the raw external-format bytes of an Erlang term, decoded and
 *   formatted (Elixir or Erlang syntax, chosen per node) only when it is shown. `String(term)` formats it;
 *   `term.value` gives a plain JavaScript value.
 */

export type ColumnType = "string" | "int" | "float" | "bool" | "term";

export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  /** May the column hold null? */
  readonly nullable: boolean;
  readonly doc: string;
}

export interface TableSchema {
  readonly kind: TableKind;
  readonly version: number;
  readonly doc: string;
  readonly columns: readonly ColumnSchema[];
}

/** The kinds of probe, each a table of the same name. */
export const PROBE_KINDS = ["calls", "messages", "procs", "state", "telemetry", "logs", "metrics", "counts"] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/** The immediate looks at a node (`%top`, `%tree`, `%apps`, `%ets`), each a table of the same name. */
export const SNAPSHOT_KINDS = ["top", "tree", "apps", "ets"] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** `whatif`: the replays of a recorded table on the shadow node (`%whatif`); `summary`: a `--summary` probe's percentiles. */
export type TableKind = ProbeKind | SnapshotKind | "probes" | "whatif" | "summary";

export interface ContractValue<N extends string = string> {
  readonly name: N;
  readonly doc: string;
}

/** The states of a probe, in the order it goes through them. */
export const PROBE_STATES = [
  { name: "armed", doc: "watching: events are counted and rows sent in batches" },
  { name: "ending", doc: "a budget tripped or it was disarmed: its trace patterns and flags are already removed, and what was under way is being drained into its last batch" },
  { name: "ended", doc: "its last batch has been sent; nothing of it is left on the node" },
] as const satisfies readonly ContractValue[];
export type ProbeState = (typeof PROBE_STATES)[number]["name"];

/** Why a probe ended (its status's `why_ended`, the `why_ended` column of `%probes`). */
export const WHY_ENDED = [
  { name: "limit", doc: "its count budget (`--limit`) was reached" },
  { name: "time", doc: "its time budget (`--for`) ran out" },
  { name: "rate", doc: "events came faster than its rate budget (`--rate`)" },
  { name: "buffer", doc: "more rows waited on the node for the kernel than its buffer budget" },
  { name: "mailbox", doc: "its tracer's mailbox grew past its budget" },
  { name: "memory", doc: "its tracer's memory grew past its budget, or the agent's memory on the node passed the node-wide budget (120 MB) and this probe held the most" },
  { name: "cost", doc: "a state probe's hook took more than its share (5%) of the watched process's time" },
  { name: "overload", doc: "the process a message probe watched fell behind its senders while traced: its mailbox grew by more than the mailbox budget" },
  { name: "target_down", doc: "the process it watched exited" },
  { name: "disarmed", doc: "the user disarmed it (`%disarm`, `%disconnect`), or the agent stopped" },
  { name: "node_down", doc: "the connection to its node was lost" },
  { name: "refused", doc: "the node refused to arm it (the error says why); it never ran" },
] as const satisfies readonly ContractValue[];
export type WhyEnded = (typeof WHY_ENDED)[number]["name"];

const codeList = (values: readonly ContractValue[]) => values.map((v) => `\`${v.name}\``).join(", ");

const col = (name: string, type: ColumnType, doc: string, nullable = false): ColumnSchema => ({
  name,
  type,
  nullable,
  doc,
});

export const SCHEMAS: { readonly [K in TableKind]: TableSchema } = {
  calls: {
    kind: "calls",
    version: 1,
    doc: "One row per completed call seen by a call probe (`%probe Mod.fun/arity`): a span from call to return or exception.",
    columns: [
      col("node", "string", "node the call ran on"),
      col("pid", "string", "process that made the call"),
      col("process", "string", "registered name of that process, where it has one", true),
      col("module", "string", "module of the traced function (Elixir modules as `Elixir.Foo` is shown as `Foo`)"),
      col("function", "string", "function name"),
      col("arity", "int", "arity"),
      col("depth", "int", "nesting depth of this call among the traced calls of the same process (0 = outermost)"),
      col("start_us", "float", "when the call started, µs since the epoch"),
      col("duration_us", "float", "time from call to return or exception, µs"),
      col("outcome", "string", "`return` or `exception`"),
      col("result", "term", "the returned value (null when the call raised)", true),
      col("exception_class", "string", "`error`, `exit` or `throw` when the call raised", true),
      col("exception_reason", "term", "the reason when the call raised", true),
      col("args", "term", "the argument list, when the probe was armed with `--args` (oversized terms are cut on the node)", true),
    ],
  },
  messages: {
    kind: "messages",
    version: 1,
    doc: "One row per message sent or received by the processes a message probe (`%probe --messages`) watches. A `receive` row is made when the process takes the message from its mailbox, so a probe on a slow consumer sees its messages at the pace it handles them, not as they arrive.",
    columns: [
      col("node", "string", "node of the watched process"),
      col("time_us", "float", "when the send or receive happened, µs since the epoch"),
      col("event", "string", "`send`, `receive`, or `timeout`: a `receive … after` that timed out, which the VM reports as receiving the atom `timeout` (its own row kind, so it is not taken for a message; a real message that is the bare atom `timeout` with no sender reads the same); `%events` leaves these rows out unless `--timeouts`"),
      col("from_pid", "string", "sender; on a `receive` row known only when the message names it (calls, replies to calls seen, EXIT, DOWN, system), else null", true),
      col("from_name", "string", "sender's registered name", true),
      col("to_pid", "string", "receiver (a pid, or the name sent to)"),
      col("to_name", "string", "receiver's registered name", true),
      col("protocol", "string", "OTP protocol recognised: `call`, `reply`, `cast`, `info`, `EXIT`, `DOWN`, `system`; `timeout` on a `timeout` row"),
      col("call_id", "string", "for `call` and `reply` rows: the call's reference, pairing a call with its reply", true),
      col("latency_us", "float", "on a `reply` row: time from its `call` row to this reply, µs — for a call the watched process made, how long it waited; for one it served, how long it took to answer", true),
      col("message", "term", "the message"),
      col("size_words", "int", "the message's size in words (`erts_debug:flat_size`)"),
    ],
  },
  procs: {
    kind: "procs",
    version: 1,
    doc: "Process lifecycle events seen by a process probe (`%probe --procs`).",
    columns: [
      col("node", "string", "node"),
      col("time_us", "float", "µs since the epoch"),
      col("event", "string", "`spawn`, `exit`, `link`, `unlink`, `register`, `unregister`"),
      col("pid", "string", "the process the event is about"),
      col("name", "string", "its registered name, where known", true),
      col("other", "string", "the other side: the spawned pid, the linked pid, or the registered name", true),
      col("mfa", "string", "for `spawn`: the spawned process's initial MFA", true),
      col("reason", "term", "for `exit`: the exit reason", true),
    ],
  },
  state: {
    kind: "state",
    version: 2,
    doc: "One row per message a GenServer / gen_statem handled, with its state before and after and what changed (`%probe --state`). A state (or its `--path` part) bigger than `--cut` is shipped from a GenServer as a diff against the previous message's: a cut snapshot first, then only the changed values (`state_diff`), so `state_before`/`state_after` are null on those rows.",
    columns: [
      col("node", "string", "node"),
      col("pid", "string", "the server"),
      col("name", "string", "its registered name", true),
      col("seq", "int", "0, 1, 2… in the order the server handled messages"),
      col("time_us", "float", "when the server started handling the message, µs since the epoch"),
      col("duration_us", "float", "time the callback took, µs", true),
      col("kind", "string", "`call`, `cast`, `info` (gen_statem: also the event type)"),
      col("message", "term", "the message or event"),
      col("state_before", "term", "state (gen_statem: data) before; null when only a diff of it is known", true),
      col("state_after", "term", "state (gen_statem: data) after; null when only a diff of it was shipped", true),
      col("state_name_before", "term", "gen_statem only: state name before", true),
      col("state_name_after", "term", "gen_statem only: state name after", true),
      col("reply", "term", "the reply sent, for calls", true),
      col("state_diff", "string", "what the message changed, in the node's syntax: `queue.len: 3 → 4; items[7]: added …` (paths as `--path` writes them, list positions `[n]` from 1, each value cut by `--cut`); `(unchanged)`; null when not known (a cut state on both sides, or no state after)", true),
    ],
  },
  telemetry: {
    kind: "telemetry",
    version: 1,
    doc: "One row per `:telemetry` event under the prefixes a telemetry probe watches.",
    columns: [
      col("node", "string", "node"),
      col("time_us", "float", "µs since the epoch"),
      col("pid", "string", "process that emitted the event"),
      col("event", "string", "event name, e.g. `[:my_app, :repo, :query]`"),
      col("measurements", "term", "the measurements map"),
      col("metadata", "term", "the metadata map"),
    ],
  },
  logs: {
    kind: "logs",
    version: 1,
    doc: "One row per `:logger` event at or above the probe's level (`%probe --logs`).",
    columns: [
      col("node", "string", "node"),
      col("time_us", "float", "µs since the epoch"),
      col("level", "string", "`emergency` … `debug`"),
      col("pid", "string", "process that logged", true),
      col("mfa", "string", "`Mod.fun/arity` where the log call was made, where known (Erlang modules as `mod:fun/arity`)", true),
      col("file", "string", "source file, where known", true),
      col("line", "int", "source line, where known", true),
      col("message", "string", "the formatted message"),
      col("metadata", "term", "the rest of the logger metadata"),
    ],
  },
  metrics: {
    kind: "metrics",
    version: 1,
    doc: "A time series of node-wide signals, one row per sample (`%probe --metrics`). Samples keep to a fixed grid (the start plus a whole number of `--every` intervals), so they do not drift; ticks missed while the node was busy are skipped, not sent late one after another.",
    columns: [
      col("node", "string", "node"),
      col("time_us", "float", "µs since the epoch"),
      col("memory_total", "int", "bytes"),
      col("memory_processes", "int", "bytes"),
      col("memory_binary", "int", "bytes"),
      col("memory_ets", "int", "bytes"),
      col("memory_atom", "int", "bytes"),
      col("memory_code", "int", "bytes"),
      col("process_count", "int", "processes alive"),
      col("port_count", "int", "ports open"),
      col("run_queue", "int", "total run queue length"),
      col("scheduler_utilization", "float", "0…1, averaged over schedulers since the previous sample"),
      col("reductions_per_s", "float", "reductions per second since the previous sample"),
      col("io_in_bytes_per_s", "float", "bytes per second read since the previous sample"),
      col("io_out_bytes_per_s", "float", "bytes per second written since the previous sample"),
    ],
  },
  top: {
    kind: "top",
    version: 1,
    doc: "The processes that stand out now (`%top`), from two samples so reductions are a rate; the agent's own processes are included and marked (`agent`), so what ElixirLumin costs the node is in plain view.",
    columns: [
      col("node", "string", "node"),
      col("pid", "string", "process"),
      col("name", "string", "registered name", true),
      col("initial_call", "string", "`Mod.fun/arity` the process started in (through proc_lib: the module's `init/1`); Erlang modules as `mod:fun/arity`", true),
      col("current_function", "string", "`Mod.fun/arity` it is in now (Erlang modules as `mod:fun/arity`)", true),
      col("memory", "int", "bytes"),
      col("reductions_per_s", "float", "reductions per second between the two samples"),
      col("message_queue_len", "int", "messages waiting"),
      col("heap_size", "int", "words"),
      col("agent", "bool", "one of the ElixirLumin agent's own processes (the tracer, a probe, a probe's watchdog, or the agent itself)"),
    ],
  },
  tree: {
    kind: "tree",
    version: 1,
    doc: "A supervision tree (`%tree`), one row per child, parents before children.",
    columns: [
      col("node", "string", "node"),
      col("application", "string", "the application the tree belongs to", true),
      col("supervisor", "string", "the parent supervisor (name or pid); null for the root", true),
      col("supervisor_pid", "string", "the parent supervisor's pid", true),
      col("child_id", "string", "the child's id in its supervisor's spec (`undefined` for a dynamic supervisor's children); `(root)` for the root"),
      col("pid", "string", "the child's pid, or `undefined` / `restarting`"),
      col("name", "string", "the child's registered name", true),
      col("type", "string", "`worker` or `supervisor`"),
      col("restart", "string", "`permanent`, `transient`, `temporary`", true),
      col("strategy", "string", "for supervisors: `one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one`", true),
      col("depth", "int", "0 for the root"),
    ],
  },
  apps: {
    kind: "apps",
    version: 1,
    doc: "Applications on the node (`%apps`).",
    columns: [
      col("node", "string", "node"),
      col("application", "string", "name"),
      col("description", "string", "description"),
      col("version", "string", "version"),
      col("running", "bool", "started, or only loaded"),
    ],
  },
  ets: {
    kind: "ets",
    version: 1,
    doc: "ETS tables by memory (`%ets`).",
    columns: [
      col("node", "string", "node"),
      col("table", "string", "name (or id for unnamed tables)"),
      col("type", "string", "`set`, `ordered_set`, `bag`, `duplicate_bag`"),
      col("size", "int", "objects"),
      col("memory_bytes", "int", "bytes"),
      col("owner", "string", "owner pid"),
      col("owner_name", "string", "owner's registered name", true),
      col("protection", "string", "`public`, `protected`, `private`"),
    ],
  },
  counts: {
    kind: "counts",
    version: 1,
    doc: "A `--counts` probe: per interval (`--every`, default 1 s, ending on the wall-clock grid) and function, the calls and their time as the VM's own `call_time` counters kept them — no trace message per call. A call under way at an interval's end is counted in it, its time added when it returns. The time is what the calls ran on a scheduler: waiting (in a receive, a sleep, for a GenServer's reply) is not in it — for latency as callers see it, use `--summary`.",
    columns: [
      col("node", "string", "node the calls ran on"),
      col("time_us", "float", "the end of the interval, µs since the epoch"),
      col("function", "string", "`Mod.fun/arity` (Erlang modules as `mod:fun/arity`)"),
      col("count", "int", "calls in the interval"),
      col("mean_us", "float", "mean time per call, µs, while running (not waiting)"),
      col("total_us", "float", "time in all, µs, while running (not waiting)"),
    ],
  },
  summary: {
    kind: "summary",
    version: 2,
    doc: "What a call probe armed with `--summary` gives instead of one row per call: per interval (`--every`, default 1 s), per node and per function, the exact count of calls (the VM's `call_count` counter) and the latency percentiles read from a sketch kept on the node (relative error `--error`, default 1%) of the calls it traced — every call of a function called at most `--sample-rate` times a second (default 1000), a window of each 100 ms tick sized to that rate for a busier one; `sampled` says which share fed it. With `--nodes`, also one row per interval and function merged over every node (`node` is `all`). Intervals end on the wall-clock grid, so every node's end together.",
    columns: [
      col("time_us", "float", "the end of the interval, µs since the epoch"),
      col("node", "string", "node the calls ran on, or `all` for the merge over every node of the probe"),
      col("function", "string", "`Mod.fun/arity` (Erlang modules as `mod:fun/arity`)"),
      col("count", "int", "calls made in the interval (exact: the VM's call_count, every process's calls)"),
      col("sampled", "float", "share of those calls that fed the sketch (completed in the interval and traced): 1 when every call did; the percentiles, max, mean and errors are of those calls", true),
      col("errors", "int", "calls that fed the sketch and raised (error, exit or throw): exact when `sampled` is 1, else errors / sampled estimates them; 0 with `--no-result` (no trace message says a call raised)"),
      col("p50_us", "float", "median duration, µs (within the stated relative error)", true),
      col("p90_us", "float", "90th percentile duration, µs (within the stated relative error)", true),
      col("p99_us", "float", "99th percentile duration, µs (within the stated relative error)", true),
      col("max_us", "float", "longest duration of the calls that fed the sketch, µs (exact)", true),
      col("mean_us", "float", "mean duration of the calls that fed the sketch, µs (exact)", true),
    ],
  },
  probes: {
    kind: "probes",
    version: 1,
    doc: "The probes of this kernel (`%probes`).",
    columns: [
      col("name", "string", "the probe's name (`--as`, or p1, p2…)"),
      col("node", "string", "node it is armed on"),
      col("kind", "string", PROBE_KINDS.map((k) => `\`${k}\``).join(", ")),
      col("target", "string", "what it watches, as written"),
      col("state", "string", codeList(PROBE_STATES)),
      col("seen", "int", "events seen, of which the rows are made (for `--counts`, a function's interval); for `--summary`, the calls traced into its sketches: every call counted is in its rows' `count`"),
      col("dropped", "int", "events dropped (counted exactly)"),
      col("why_ended", "string", `why it ended: ${codeList(WHY_ENDED)}`, true),
      col("detail", "string", "what tripped, with the figures (e.g. `rate budget of 2000 calls/s exceeded (41234/s)`)", true),
    ],
  },
  whatif: {
    kind: "whatif",
    version: 1,
    doc: "One row per replay of a recorded call or message on the shadow node (`%whatif`, `%%whatif`): what was recorded beside what the replay did. Replays never touch the node the rows were recorded on.",
    columns: [
      col("node", "string", "the node the replayed rows were recorded on"),
      col("row", "int", "the recorded row's position in the table replayed (0 = its first row)"),
      col("seq", "int", "state probes: the recorded row's `seq`", true),
      col("start_us", "float", "when the recorded call (or message) started, µs since the epoch"),
      col("function", "string", "what was re-run: `Mod.fun/arity`, or the callback (`Mod.handle_call/3`)"),
      col("args", "term", "the arguments replayed (after `--args`); for a state replay, the message", true),
      col("outcome", "string", "`return`, `exception`, `would_call` (it called a process through the node — stopped there, not delivered), `timeout` (stopped at `--timeout`), `not_replayed` (`error` says why)"),
      col("same", "bool", "the replay returned (or raised) what was recorded, and left the same state; null when it cannot be told", true),
      col("recorded", "term", "the recorded result (a state replay: the reply); an exception as `{class, reason}`", true),
      col("replayed", "term", "the replay's result (or reply), an exception as `{class, reason}`", true),
      col("recorded_us", "float", "the recorded duration, µs", true),
      col("replayed_us", "float", "the replay's duration on the shadow node, µs", true),
      col("state", "term", "state replays: the state the callback was given (after `--state`)", true),
      col("recorded_state", "term", "state replays: the recorded state after the message", true),
      col("replayed_state", "term", "state replays: the state the replay left", true),
      col("diff", "string", "where recorded and replayed differ, as `where: recorded → replayed` in the node's syntax", true),
      col("sent", "term", "the messages the replay tried to send, as `{to, message}` (listed, never delivered)"),
      col("sent_count", "int", "how many"),
      col("would_call", "string", "the process a `would_call` replay called (a registered name or a pid)", true),
      col("error", "string", "why a row was not replayed, or the replay's exception as text", true),
    ],
  },
};

export function columnNames(kind: TableKind): string[] {
  return SCHEMAS[kind].columns.map((c) => c.name);
}

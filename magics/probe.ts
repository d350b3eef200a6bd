/**
 * %probe, %probes, %disarm, %drop: arm a probe on a node, see the probes, end them, forget their rows. A
 * probe arms and returns at once, showing a live line (count, rate, state) that updates until it ends. Every
 * probe has budgets — count (--limit), time (--for), rate (--rate) — and disarms itself past any of them, or
 * when its buffer, its tracer's mailbox or memory outgrow theirs (elixir_agent/src/lumin_budget.erl has the
 * defaults).
 */
import { defineMagic, MagicUsageError, type FlagValues, type MagicContext } from "../kernel/magics/declaration";
import { NODE_FLAG, NODES_FLAG } from "../kernel/magics/nodeFlag";
import { parseMfa } from "../kernel/magics/mfa";
import { probesTable } from "../kernel/tables/tables";
import { showingEveryRow } from "../kernel/display/tableBundle";
import { LOG_LEVELS, type LogLevel, type ProbeArm, type ProbeBudget, type ProbeKind, type ProbeStatusEvent } from "../kernel/beam/protocol";
import { showLiveStatus as showProbeStatus } from "../kernel/display/statusLine";

const KIND_FLAGS: { flag: Exclude<ProbeKind, "calls">; kind: ProbeKind }[] = [
  { flag: "messages", kind: "messages" },
  { flag: "procs", kind: "procs" },
  { flag: "state", kind: "state" },
  { flag: "telemetry", kind: "telemetry" },
  { flag: "logs", kind: "logs" },
  { flag: "metrics", kind: "metrics" },
];

/** Kinds whose flag takes an optional value. */
const OPTIONAL_VALUE = new Set<ProbeKind>(["messages", "procs", "logs"]);

const PROBE_FLAGS = [
    { name: "match", takes: "value", valueName: "PATTERN", help: "only calls whose argument list matches, e.g. \"[id, _] when id > 10\"" },
    { name: "args", takes: "none", help: "keep each call's arguments (cut on the node when large)" },
    { name: "no-load", takes: "none", help: "refuse, instead of loading it from the code path, a module that is not loaded yet" },
    { name: "no-result", takes: "none", help: "call probes: durations without results — the VM copies no return value (for functions returning big states)" },
    { name: "cut", takes: "value", type: "int", valueName: "BYTES", help: "cut terms (arguments, results, messages, states) larger than this on the node (default 4096, 64 to 1048576)" },
    { name: "path", takes: "value", valueName: "KEYS", help: "with --state: keep only this part of the state, e.g. queue.len or stock.apple (map keys, keyword keys, tuple positions from 1; a gen_event: of each handler's state)" },
    { name: "unsafe", takes: "none", help: "allow --limit, --for or --rate above the safe range (the node-wide memory budget still holds)" },
    { name: "limit", takes: "value", type: "int", valueName: "N", help: "stop after N events (default 10000; above 1000000 needs --unsafe)" },
    { name: "for", takes: "value", type: "duration", valueName: "DURATION", help: "stop after this long (default 60s; above 1h needs --unsafe)" },
    { name: "rate", takes: "value", type: "rate", valueName: "N/s", help: "stop if events come faster (default 20000/s; above 100000/s needs --unsafe)" },
    { name: "as", takes: "value", valueName: "NAME", help: "the probe's name (default p1, p2, …)" },
    { name: "messages", takes: "optional", valueName: "TARGET", help: "messages sent and received by a pid, a registered name, an application's processes (app:NAME), or new processes (new, or --new)" },
    { name: "new", takes: "none", help: "with --messages or --procs: watch the processes spawned from now on" },
    { name: "procs", takes: "optional", valueName: "TARGET", help: "process lifecycle: spawn, exit, link, register… (all processes, or a pid/name/app:NAME)" },
    { name: "state", takes: "value", valueName: "NAME|PID", help: "each message a GenServer/gen_statem/gen_event handles, with its state before and after and what changed (state_diff); a state bigger than --cut ships only what changed" },
    { name: "telemetry", takes: "value", valueName: "PREFIX", help: "telemetry events under this prefix (e.g. my_app.repo); repeatable", repeatable: true },
    { name: "logs", takes: "optional", valueName: "LEVEL", help: "logger events at or above LEVEL (default info)", choices: LOG_LEVELS },
    { name: "metrics", takes: "none", help: "a time series of memory, processes, run queue, scheduler use, reductions, I/O" },
    { name: "every", takes: "value", type: "duration", valueName: "DURATION", help: "with --metrics: the sampling interval; with --summary: how often each node ships its sketches (default 1s)" },
    { name: "summary", takes: "none", help: "call probes: no rows — each node counts each function's calls exactly and keeps a latency sketch of a bounded share of them (--sample-rate), shipped every --every; %events gives count, sampled, errors, p50, p90, p99, max per node (and merged over --nodes)" },
    { name: "counts", takes: "none", help: "functions: only how many calls and their mean time per --every, from the VM's own call_time counters — no trace message per call, the cheapest probe" },
    { name: "error", takes: "value", valueName: "PCT", help: "with --summary: the sketch's relative error, e.g. 1% (default) or 0.5%; 0.01% to 10%" },
    { name: "sample-rate", takes: "value", type: "int", valueName: "N", help: "with --summary: at most about N calls a second per function feed the sketch (default 1000); counts stay exact" },
    NODE_FLAG,
    NODES_FLAG,
    { name: "total", takes: "value", type: "int", valueName: "N", help: "with --nodes: end the probe on every node once N events were counted across them (--limit, --for and --rate apply on each node)" },
] as const;

export const probe = defineMagic({
  name: "probe",
  kind: "line",
  summary: "Arm a probe: calls of a function (default), or messages, processes, GenServer state, telemetry, logs, metrics.",
  details: `MFA is Mod.fun/arity, Mod.fun (every arity), :mod.fun/arity or mod:fun/arity; a module alone
(Mod, :mod) probes every function of it; several, comma-separated (M1.f/1,M2.g/2), go in one probe.
Defaults: --limit 10000 events, --for 60s, --rate 20000/s, terms cut at 4096 bytes (--cut). Raising
--limit past 1000000, --for past 1h or --rate past 100000/s needs --unsafe.
Node-wide, everything the agent holds (all probes' processes and the events queued for them) has a
memory budget of 120 MB: past it, the probe holding the most ends (why_ended: memory), the others stay.
A call probe ends at once when one traced term passes 32 MB (use --no-result for such functions).
A state probe ends (why_ended: cost) when its hook takes more than 5% of the watched process's time.
A GenServer's state (or its --path part) bigger than --cut is shipped as what each message changed
(state_diff: paths and old/new values, each cut), after one cut snapshot; a smaller one whole. A gen_event's
handler states (and another sys process's state) are read after each event by a fun run in the process
that sends each handler's state at --path, cut; sys always answers such a request with every handler's
state whole, so that answer goes to an exited process and is dropped uncopied by the VM.
The probe's events: %events NAME.

Examples:
  %probe Shop.Orders.place/2 --args --as orders
  %probe :lists.seq/2 --match "[a, b] when b > 50"
  %probe Shop.Inventory.handle_call/3 --no-result
  %probe Shop.Pricing
  %probe Shop.Pricing.price/2,Shop.Orders.place/2
  %probe --state Shop.Inventory --path stock.apple
  %probe --messages Shop.Inventory --for 10s
  %probe --procs --limit 500
  %probe --state Shop.Inventory
  %probe --logs warning
  %probe --metrics --every 500ms --for 30s
  %probe checkout:place/1 --nodes all --limit 1000 --total 3000
  %probe Shop.Orders.handle_call/3 --nodes all --summary --every 1s
  %chart summary p1

Across nodes (--nodes all, a list, or a /regex/): the same probe is armed on each chosen node at once, as
NAME@node, and NAME gives them together — %events NAME is one table (each row names its node), %probes shows
NAME's totals and each node's counts. --limit, --for and --rate apply on each node (on the node); --total is
a count budget across the nodes, checked in the kernel as the nodes report (every 250 ms), so the last
report may pass it. A node that refuses the probe is listed with its reason; the others run.

--summary: instead of one row per call, each node keeps per function the exact count of calls (the VM's
call_count counter: every process's calls) and a latency sketch (a log-bucketed histogram, relative error
--error, default 1%, at most 1024 buckets) of the calls it traces, and ships them every --every (default
1s): a few hundred bytes per function per interval whatever the rate. What it traces is bounded, so it stays
cheap left on: a function called at most --sample-rate times a second (default 1000) has every call traced;
a busier one is traced for a window of each 100 ms tick sized to that rate, at a random place in the tick,
and a burst is cut within a few ms. %events NAME gives time, node, function, count (exact), sampled (the
share of those calls that fed the sketch: 1 = every call), errors (exceptions among the calls that fed it:
exact when sampled is 1, else errors / sampled estimates them), p50, p90, p99, max, mean (of the calls that
fed it) per interval — per node, and merged over the nodes (node "all") with --nodes; %chart summary NAME
draws them. Without --limit or --rate a summary has no count budget and the safe maximum rate (its sampler
bounds what it traces); --for still holds.

--counts: where counts and mean times suffice, the VM's own call_time counters instead of trace messages
(a call costs the node a fraction of a traced one's): per --every interval, per node, each function's
calls, mean and total time — time running on a scheduler: waiting (receive, sleep, a GenServer.call's reply)
is not counted, so for latency as callers see it use --summary. No percentiles, exceptions or arguments.`,
  positionals: [{ name: "MFA", help: "the function whose calls to record (call probes)", optional: true, completes: "functions" }],
  flags: PROBE_FLAGS,
  showsResult: false,
  async run({ args }, ctx) {
    const session = ctx.beam;
    if (args.flags.nodes !== undefined) return armOnNodes(args.positionals.MFA, args.flags, ctx);
    if (args.flags.total !== undefined) throw new MagicUsageError("%probe: --total goes with --nodes (it is a budget across nodes).");
    const node = session.node(args.flags.node).node;
    const arm = probeSpec(args.positionals.MFA, args.flags);
    const name = args.flags.as !== undefined ? checkName(args.flags.as) : session.probes.nextName();
    const info = await session.arm(node, name, arm);
    for (const w of info.warnings ?? []) ctx.io.stream("stderr", `warning: ${w}\n`);
    showLiveStatus(name, ctx);
    return name;
  },
});

/** A function (Mod.fun/arity, Mod.fun) or a whole module (Mod, :mod, mod): function null means every function. */
function parseTarget(text: string): { module: string; function: string | null; arity: number | null } {
  if (/^[A-Z][A-Za-z0-9_]*(\.[A-Z][A-Za-z0-9_]*)*$/.test(text)) return { module: `Elixir.${text}`, function: null, arity: null };
  const erl = /^:?([a-z][A-Za-z0-9_@]*)$/.exec(text);
  if (erl) return { module: erl[1], function: null, arity: null };
  return parseMfa(text);
}

/** `--path queue.len`: keys joined by dots. */
function statePath(text: string): string[] {
  if (!/^[^.\s]+(\.[^.\s]+)*$/.test(text)) throw new MagicUsageError(`%probe: --path takes keys joined by dots, e.g. queue.len, not "${text}".`);
  return text.split(".");
}

function checkName(name: string): string {
  if (!/^[A-Za-z][\w-]*$/.test(name)) throw new MagicUsageError(`%probe: --as takes a name of letters, digits, _ and -, not "${name}".`);
  return name;
}

/** The flags of %probe, each of its declared type. */
export type ProbeFlags = FlagValues<typeof PROBE_FLAGS>;

/**
 * `--summary [--every 1s] [--error 1%] [--sample-rate 1000]`: how often each node ships its sketches, their relative
 * error, and how many calls a second per function may feed them.
 */
function summarySpec(everyMs: number | undefined, error: string | undefined, sampleRate: number | undefined): { every_ms: number; alpha: number; sample_rate?: number } {
  const every = everyMs ?? 1000;
  if (every < 100) throw new MagicUsageError(`%probe: --every ${every}ms is too short for a summary: give 100ms or more.`);
  let alpha = 0.01;
  if (error !== undefined) {
    const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(error.trim());
    alpha = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
    if (!(alpha >= 0.0001 && alpha <= 0.1)) throw new MagicUsageError(`%probe: --error takes a relative error from 0.01% to 10% (e.g. 1% or 0.005), not "${error}".`);
  }
  if (sampleRate !== undefined && !(sampleRate >= 10 && sampleRate <= 1_000_000)) {
    throw new MagicUsageError(`%probe: --sample-rate takes 10 to 1000000 calls a second per function (its sampler decides every 100 ms), not ${sampleRate}.`);
  }
  return { every_ms: every, alpha, ...(sampleRate !== undefined ? { sample_rate: sampleRate } : {}) };
}

/** Was a kind's flag given? (A switch is false and a repeatable flag empty when it was not.) */
const given = (v: unknown) => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);

export function probeSpec(mfaText: string | undefined, flags: Partial<ProbeFlags>): ProbeArm {
  const kinds = KIND_FLAGS.filter((k) => given(flags[k.flag]));
  if (kinds.length > 1) throw new MagicUsageError(`%probe: one kind per probe; ${kinds.map((k) => `--${k.flag}`).join(" and ")} were both given.`);
  const budget: ProbeBudget = { limit: flags.limit, time_ms: flags.for, rate: flags.rate };
  if (flags.unsafe === true) budget.unsafe = true;
  if (flags.cut !== undefined) {
    if (flags.cut < 64 || flags.cut > 1048576) throw new MagicUsageError(`%probe: --cut takes 64 to 1048576 bytes, not ${flags.cut}.`);
    budget.cut_bytes = flags.cut;
  }

  if (kinds.length === 0) {
    if (!mfaText) throw new MagicUsageError("%probe: name the function to probe (Mod.fun/arity), or a kind such as --messages, --procs, --logs.\nSee %probe? for help.");
    if (flags.path !== undefined) throw new MagicUsageError("%probe: --path applies to --state probes only.");
    if (flags.summary !== true && flags.error !== undefined) throw new MagicUsageError("%probe: --error goes with --summary (it is the sketch's relative error).");
    if (flags.summary !== true && flags["sample-rate"] !== undefined) throw new MagicUsageError("%probe: --sample-rate goes with --summary (how many calls a second feed its sketch).");
    if (flags.summary !== true && flags.counts !== true && flags.every !== undefined) throw new MagicUsageError("%probe: --every applies to --summary, --counts and --metrics probes only.");
    if (flags.summary === true && flags.counts === true) throw new MagicUsageError("%probe: give --summary (percentiles, from each call's time) or --counts (counts and means, from the VM's counters), not both.");
    if (flags.counts === true && (flags.args === true || flags.match !== undefined || flags["no-result"] === true)) {
      throw new MagicUsageError("%probe: --counts reads the VM's own counters: no arguments, pattern or results; drop --args/--match/--no-result (or --counts).");
    }
    if (flags.summary === true && flags.args === true) throw new MagicUsageError("%probe: --summary keeps no rows, so no arguments: drop --args (or --summary).");
    const functions = mfaText.split(",").map((t) => t.trim()).filter(Boolean).map(parseTarget);
    const first = functions[0];
    if (flags.counts === true) {
      const every = flags.every ?? 1000;
      if (every < 100) throw new MagicUsageError(`%probe: --every ${every}ms is too short for counts: give 100ms or more.`);
      return {
        kind: "counts",
        spec: {
          ...budget, target: `${mfaText} (counts)`, module: first.module, function: first.function, arity: first.arity,
          ...(functions.length > 1 ? { functions } : {}), load: flags["no-load"] !== true, every_ms: every,
        },
      };
    }
    return {
      kind: "calls",
      spec: {
        ...budget, target: mfaText, module: first.module, function: first.function, arity: first.arity,
        ...(functions.length > 1 ? { functions } : {}),
        match: flags.match ?? null, args: flags.args === true, load: flags["no-load"] !== true, no_result: flags["no-result"] === true,
        ...(flags.summary === true ? { summary: summarySpec(flags.every, flags.error, flags["sample-rate"]) } : {}),
      },
    };
  }
  if (flags["no-result"] === true) throw new MagicUsageError("%probe: --no-result only applies to call probes.");
  if (flags.summary === true) throw new MagicUsageError("%probe: --summary applies to call probes (a function or module), not to other kinds.");
  if (flags.counts === true) throw new MagicUsageError("%probe: --counts applies to functions (Mod.fun/arity or a module), not to other kinds.");
  if (flags.path !== undefined && !given(flags.state)) throw new MagicUsageError("%probe: --path applies to --state probes only.");
  const { kind, flag } = kinds[0];
  let value: string | true | string[] | undefined = flags[flag] as string | true | string[] | undefined;
  // `--procs TARGET` and `--logs LEVEL`: the parser reads an optional value only as --flag=VALUE, so the word
  // after the flag arrives as the positional; these kinds take no function, so it is the flag's value.
  if (value === true && mfaText && OPTIONAL_VALUE.has(kind)) [value, mfaText] = [mfaText, undefined];
  if (mfaText) throw new MagicUsageError(`%probe: --${flag} probes take no function name; "${mfaText}" is extra.`);
  if (flags.new === true) {
    if (kind !== "messages" && kind !== "procs") throw new MagicUsageError(`%probe: --new applies to --messages and --procs, not --${flag}.`);
    if (typeof value === "string" && value !== "new") throw new MagicUsageError(`%probe: --new watches new processes; it cannot be combined with a target ("${value}").`);
    value = "new";
  }
  if (kind === "messages" && value === true) throw new MagicUsageError("%probe: --messages needs a target: a pid, a registered name, app:NAME, or --new.");
  if (kind === "logs" && typeof value === "string" && !(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new MagicUsageError(`%probe: --logs takes a level, one of ${LOG_LEVELS.join(", ")}, not "${value}".`);
  }
  for (const callOnly of ["match", "args", "no-load"] as const) if (given(flags[callOnly])) throw new MagicUsageError(`%probe: --${callOnly} only applies to call probes, not --${flag}.`);
  if (flags.every !== undefined && kind !== "metrics") throw new MagicUsageError("%probe: --every only applies to --metrics.");
  const base = { ...budget, target: `--${flag}${typeof value === "string" ? ` ${value}` : Array.isArray(value) ? ` ${value.join(" ")}` : ""}` };
  switch (kind) {
    case "messages":
      return { kind, spec: { ...base, process: value as string } };
    case "state":
      return { kind, spec: flags.path === undefined ? { ...base, process: value as string } : { ...base, process: value as string, path: statePath(flags.path) } };
    case "procs":
      return { kind, spec: typeof value === "string" ? { ...base, process: value } : base };
    case "telemetry":
      return { kind, spec: { ...base, prefixes: value as string[] } };
    case "logs":
      return { kind, spec: { ...base, level: (typeof value === "string" ? value : "info") as LogLevel } };
    default:
      return { kind: "metrics", spec: { ...base, interval_ms: flags.every ?? 1000 } };
  }
}

/** The probe's line, updated in place as statuses arrive, until it ends (kernel/display/statusLine.ts). */
/** %probe … --nodes: one probe on each chosen node, as a group; nodes that refuse are listed, the rest run. */
async function armOnNodes(mfa: string | undefined, flags: ProbeFlags, ctx: MagicContext): Promise<string> {
  const session = ctx.beam;
  if (flags.node !== undefined) throw new MagicUsageError("%probe: give --node or --nodes, not both.");
  let nodes: string[];
  try {
    nodes = session.nodesMatching(flags.nodes!);
  } catch (e) {
    throw new MagicUsageError(`%probe: ${(e as Error).message}.`);
  }
  const arm = probeSpec(mfa, flags);
  const name = flags.as !== undefined ? checkName(flags.as) : session.probes.nextName();
  if (session.probes.group(name) && session.probes.groupStatus(name).state !== "ended") throw new MagicUsageError(`%probe: a probe named ${name} is armed already; pick another name with --as or %disarm it.`);
  if (session.probes.group(name)) session.probes.drop(name);
  const results = await session.armOnNodes(nodes, name, arm, flags.total);
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of results) for (const w of r.reply?.warnings ?? []) ctx.io.stream("stderr", `warning: ${r.node}: ${w}\n`);
  if (failed.length === results.length) {
    throw new Error(`${name} could not be armed on any of the ${nodes.length} nodes:\n${failed.map((f) => `  ${f.node}: ${f.error}`).join("\n")}`);
  }
  const lines = [`${name} armed on ${results.length - failed.length} of ${nodes.length} nodes (each node's rows as ${name}@NODE; %events ${name} gives them together).`];
  for (const f of failed) lines.push(`  not armed on ${f.node}: ${f.error}`);
  ctx.io.stream(failed.length ? "stderr" : "stdout", lines.join("\n") + "\n");
  const store = session.probes;
  showProbeStatus(name, store.groupStatus(name), ctx.io, store);
  return name;
}

function showLiveStatus(name: string, ctx: MagicContext): void {
  const store = ctx.beam.probes;
  showProbeStatus(name, store.get(name)!.status, ctx.io, store);
}

export const probes = defineMagic({
  name: "probes",
  kind: "line",
  summary: "The probes of this kernel, newest first: name, node, target, state, events seen, dropped, why each ended.",
  details: `Every probe is shown, however many (the newest first); --armed shows only those still armed.
const ps = %probes binds the table.`,
  flags: [{ name: "armed", takes: "none", help: "only the probes still armed (or ending)" }],
  showsResult: true,
  async run({ args }, ctx) {
    const store = ctx.beam.probes;
    // A probe armed on several nodes: its members (one per node, with that node's counts), then a row of the
    // group's totals, so that newest first the totals come first.
    const rows: { status: ProbeStatusEvent; kind: ProbeKind }[] = [];
    const all = store.all();
    all.forEach((p, i) => {
      rows.push(p);
      const g = store.groupOf(p.name);
      if (g && !all.slice(i + 1).some((q) => store.groupOf(q.name) === g)) rows.push({ status: store.groupStatus(g.name), kind: g.kind });
    });
    const shown = args.flags.armed ? rows.filter((p) => p.status.state !== "ended") : rows;
    return showingEveryRow(await probesTable(shown));
  },
});

export const disarm = defineMagic({
  name: "disarm",
  kind: "line",
  summary: "End a probe (or --all): its patterns and flags are removed on the node at once; its rows stay until %drop.",
  positionals: [{ name: "NAME", help: "the probe to end", optional: true, completes: "probes" }],
  flags: [{ name: "all", takes: "none", help: "end every probe" }],
  showsResult: false,
  async run({ args }, ctx) {
    const name = args.positionals.NAME;
    if (!name && !args.flags.all) throw new MagicUsageError("%disarm: name a probe, or use --all.\nUsage: %disarm [NAME] [--all]");
    const session = ctx.beam;
    if (name && !session.probes.get(name) && !session.probes.group(name)) throw new MagicUsageError(`%disarm: there is no probe named ${name} (%probes lists them).`);
    if (args.flags.all) await session.disarm(null);
    else await Promise.all(session.probes.membersOf(name!).map((m) => session.disarm(m)));
    const ended = args.flags.all ? session.probes.all().map((p) => p.name) : session.probes.membersOf(name!);
    await Promise.all(ended.map((n) => session.probes.waitForEnd(n, 3000)));
    ctx.io.stream("stdout", `Disarmed ${args.flags.all ? "every probe" : name}.\n`);
  },
});

export const drop = defineMagic({
  name: "drop",
  kind: "line",
  summary: "Forget a probe's rows (or a loaded capture's, or --ended: every ended probe's) and free the kernel's memory for them.",
  details: `An armed probe is disarmed first. The name is free again afterwards. A table bound earlier
(const t = %events p1) keeps its own rows until it is no longer used.

Examples:
  %drop p1
  %drop --ended`,
  positionals: [{ name: "NAME", help: "the probe or capture to drop", optional: true, completes: "probes" }],
  flags: [{ name: "ended", takes: "none", help: "drop every probe that has ended" }],
  showsResult: false,
  async run({ args }, ctx) {
    const name = args.positionals.NAME;
    if (!name && !args.flags.ended) throw new MagicUsageError("%drop: name a probe (or a loaded capture), or use --ended.\nUsage: %drop [NAME] [--ended]");
    if (name && args.flags.ended) throw new MagicUsageError("%drop: give a NAME or --ended, not both.");
    const session = ctx.beam;
    const store = session.probes;
    if (name && !store.has(name)) throw new MagicUsageError(`%drop: there is no probe or capture named ${name} (%probes lists them).`);
    // --ended: every ended probe, and every probe across nodes whose members have all ended (dropped whole).
    const names = name
      ? [name]
      : [
          ...store.all().filter((p) => p.status.state === "ended" && !store.groupOf(p.name)).map((p) => p.name),
          ...[...new Set(store.all().map((p) => store.groupOf(p.name)?.name).filter((g): g is string => g !== undefined))].filter((g) => store.groupStatus(g).state === "ended"),
        ];
    let rows = 0;
    for (const n of names) {
      for (const m of store.membersOf(n)) {
        const p = store.get(m);
        if (p && p.status.state !== "ended") {
          await session.disarm(m);
          await store.waitForEnd(m, 3000);
        }
      }
      if (store.has(n)) rows += store.drop(n).rows;
    }
    const what = name ?? `${names.length} ended probe${names.length === 1 ? "" : "s"}`;
    ctx.io.stream("stdout", `Dropped ${what}: ${rows.toLocaleString("en")} rows freed.\n`);
  },
});

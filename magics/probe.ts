/**
 * %probe, %probes, %disarm: arm a probe on a node, see the probes, end them. A probe arms and returns at
 * once, showing a live line (count, rate, state) that updates until it ends. Every probe has budgets —
 * count (--limit), time (--for), rate (--rate) — and disarms itself past any of them, or when its buffer,
 * its tracer's mailbox or memory outgrow theirs (elixir_agent/src/lumin_budget.erl has the defaults).
 */
import { MagicUsageError, type MagicContext, type MagicDeclaration } from "../kernel/magics/declaration";
import { beam, completeMfa, NODE_FLAG } from "./beamContext";
import { parseMfa } from "./mfa";
import { parseDuration, parsePositiveInt, parseRate } from "../kernel/magics/parser";
import type { ProbeKind, ProbeSpec, ProbeStatusEvent } from "../kernel/beam/protocol";

const KIND_FLAGS: { flag: string; kind: ProbeKind }[] = [
  { flag: "messages", kind: "messages" },
  { flag: "procs", kind: "procs" },
  { flag: "state", kind: "state" },
  { flag: "telemetry", kind: "telemetry" },
  { flag: "logs", kind: "logs" },
  { flag: "metrics", kind: "metrics" },
];

const LOG_LEVELS = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"];
/** Kinds whose flag takes an optional value. */
const OPTIONAL_VALUE = new Set<ProbeKind>(["messages", "procs", "logs"]);

export const probe: MagicDeclaration = {
  name: "probe",
  kind: "line",
  summary: "Arm a probe: calls of a function (default), or messages, processes, GenServer state, telemetry, logs, metrics.",
  details: `MFA is Mod.fun/arity, Mod.fun (every arity), :mod.fun/arity or mod:fun/arity.
Defaults: --limit 10000 events, --for 60s, --rate 10000/s. The probe's events: %events NAME.

Examples:
  %probe Shop.Orders.place/2 --args --as orders
  %probe :lists.seq/2 --match "[a, b] when b > 50"
  %probe --messages Shop.Inventory --for 10s
  %probe --procs --limit 500
  %probe --state Shop.Inventory
  %probe --logs warning
  %probe --metrics --every 500ms --for 30s`,
  positionals: [{ name: "MFA", help: "the function whose calls to record (call probes)", optional: true }],
  flags: [
    { name: "match", takes: "value", valueName: "PATTERN", help: "only calls whose argument list matches, e.g. \"[id, _] when id > 10\"" },
    { name: "args", takes: "none", help: "keep each call's arguments (cut on the node when large)" },
    { name: "no-load", takes: "none", help: "refuse, instead of loading it from the code path, a module that is not loaded yet" },
    { name: "limit", takes: "value", valueName: "N", help: "stop after N events (default 10000)" },
    { name: "for", takes: "value", valueName: "DURATION", help: "stop after this long (default 60s)" },
    { name: "rate", takes: "value", valueName: "N/s", help: "stop if events come faster (default 10000/s)" },
    { name: "as", takes: "value", valueName: "NAME", help: "the probe's name (default p1, p2, …)" },
    { name: "messages", takes: "optional", valueName: "TARGET", help: "messages sent and received by a pid, a registered name, an application's processes (app:NAME), or new processes (new, or --new)" },
    { name: "new", takes: "none", help: "with --messages or --procs: watch the processes spawned from now on" },
    { name: "procs", takes: "optional", valueName: "TARGET", help: "process lifecycle: spawn, exit, link, register… (all processes, or a pid/name/app:NAME)" },
    { name: "state", takes: "value", valueName: "NAME|PID", help: "each message a GenServer/gen_statem handles, with its state before and after" },
    { name: "telemetry", takes: "value", valueName: "PREFIX", help: "telemetry events under this prefix (e.g. my_app.repo); repeatable", repeatable: true },
    { name: "logs", takes: "optional", valueName: "LEVEL", help: "logger events at or above LEVEL (default info)", choices: LOG_LEVELS },
    { name: "metrics", takes: "none", help: "a time series of memory, processes, run queue, scheduler use, reductions, I/O" },
    { name: "every", takes: "value", valueName: "DURATION", help: "with --metrics: the sampling interval (default 1s)" },
    NODE_FLAG,
  ],
  showsResult: false,
  complete: (word, _call, ctx) => completeMfa(word, ctx),
  async run({ args }, ctx) {
    const session = beam(ctx);
    const node = session.node(typeof args.flags.node === "string" ? args.flags.node : undefined).node;
    const { kind, spec } = probeSpec(args.positionals.MFA as string | undefined, args.flags);
    const name = typeof args.flags.as === "string" ? checkName(args.flags.as) : session.probes.nextName();
    const info = await session.arm(node, name, kind, spec);
    for (const w of info.warnings ?? []) ctx.io.stream("stderr", `warning: ${w}\n`);
    showLiveStatus(name, ctx);
    return name;
  },
};

function checkName(name: string): string {
  if (!/^[A-Za-z][\w-]*$/.test(name)) throw new MagicUsageError(`%probe: --as takes a name of letters, digits, _ and -, not "${name}".`);
  return name;
}

type Flags = Record<string, string | boolean | string[] | undefined>;

export function probeSpec(mfaText: string | undefined, flags: Flags): { kind: ProbeKind; spec: ProbeSpec } {
  const kinds = KIND_FLAGS.filter((k) => flags[k.flag] !== undefined);
  if (kinds.length > 1) throw new MagicUsageError(`%probe: one kind per probe; ${kinds.map((k) => `--${k.flag}`).join(" and ")} were both given.`);
  const budget: ProbeSpec = { target: "" };
  if (typeof flags.limit === "string") budget.limit = parsePositiveInt(flags.limit, "--limit");
  if (typeof flags.for === "string") budget.time_ms = parseDuration(flags.for, "--for");
  if (typeof flags.rate === "string") budget.rate = parseRate(flags.rate, "--rate");

  if (kinds.length === 0) {
    if (!mfaText) throw new MagicUsageError("%probe: name the function to probe (Mod.fun/arity), or a kind such as --messages, --procs, --logs.\nSee %probe? for help.");
    const mfa = parseMfa(mfaText);
    return {
      kind: "calls",
      spec: { ...budget, target: mfaText, module: mfa.module, function: mfa.function, arity: mfa.arity, match: typeof flags.match === "string" ? flags.match : null, args: flags.args === true, load: flags["no-load"] !== true },
    };
  }
  const { kind, flag } = kinds[0];
  let value = flags[flag];
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
  if (kind === "logs" && typeof value === "string" && !LOG_LEVELS.includes(value)) {
    throw new MagicUsageError(`%probe: --logs takes a level, one of ${LOG_LEVELS.join(", ")}, not "${value}".`);
  }
  for (const callOnly of ["match", "args", "no-load"]) if (flags[callOnly]) throw new MagicUsageError(`%probe: --${callOnly} only applies to call probes, not --${flag}.`);
  if (flags.every && kind !== "metrics") throw new MagicUsageError("%probe: --every only applies to --metrics.");
  const spec: ProbeSpec = { ...budget, target: `--${flag}${typeof value === "string" ? ` ${value}` : Array.isArray(value) ? ` ${value.join(" ")}` : ""}` };
  if (kind === "messages" || kind === "state") spec.process = value as string;
  if (kind === "procs" && typeof value === "string") spec.process = value;
  if (kind === "telemetry") spec.prefixes = value as string[];
  if (kind === "logs") spec.level = typeof value === "string" ? value : "info";
  if (kind === "metrics") spec.interval_ms = typeof flags.every === "string" ? parseDuration(flags.every, "--every") : 1000;
  return { kind, spec };
}

function statusLine(s: ProbeStatusEvent): string {
  const rate = s.state === "armed" ? `, ${Math.round(s.rate).toLocaleString("en")}/s` : "";
  const end = s.state === "ended" ? ` — ended: ${s.why_ended}${s.detail ? ` (${s.detail})` : ""}` : "";
  return `${s.name} · ${s.target} on ${s.node} · ${s.state} · ${s.seen.toLocaleString("en")} seen${rate}, ${s.dropped.toLocaleString("en")} dropped${end}`;
}

/** The probe's line, updated in place as statuses arrive, until it ends. */
function showLiveStatus(name: string, ctx: MagicContext): void {
  const store = beam(ctx).probes;
  const record = store.get(name)!;
  const displayId = `probe-${name}-${Date.now()}`;
  const bundle = (s: ProbeStatusEvent) => ({ "text/plain": statusLine(s) });
  ctx.io.displayBundle(bundle(record.status), { displayId });
  let last = 0;
  const stop = store.listen(name, (s) => {
    const now = Date.now();
    if (s.state !== "ended" && now - last < 500) return;
    last = now;
    ctx.io.updateDisplay(displayId, { [Symbol.for("Jupyter.display")]: () => bundle(s) });
    if (s.state === "ended") stop();
  });
}

export const probes: MagicDeclaration = {
  name: "probes",
  kind: "line",
  summary: "The probes of this kernel: name, node, target, state, events seen, dropped, why each ended.",
  showsResult: true,
  async run(_call, ctx) {
    const aq = await import("arquero");
    const rows = beam(ctx).probes.all().map(({ status: s, kind }) => ({
      name: s.name, node: s.node, kind, target: s.target, state: s.state, seen: s.seen, dropped: s.dropped, why_ended: s.why_ended ?? null,
    }));
    return rows.length ? aq.from(rows) : aq.table({ name: [], node: [], kind: [], target: [], state: [], seen: [], dropped: [], why_ended: [] });
  },
};

export const disarm: MagicDeclaration = {
  name: "disarm",
  kind: "line",
  summary: "End a probe (or --all): its patterns and flags are removed on the node at once.",
  positionals: [{ name: "NAME", help: "the probe to end", optional: true }],
  flags: [{ name: "all", takes: "none", help: "end every probe" }],
  showsResult: false,
  async run({ args }, ctx) {
    const name = args.positionals.NAME as string | undefined;
    if (!name && !args.flags.all) throw new MagicUsageError("%disarm: name a probe, or use --all.\nUsage: %disarm [NAME] [--all]");
    const session = beam(ctx);
    if (name && !session.probes.get(name)) throw new MagicUsageError(`%disarm: there is no probe named ${name} (%probes lists them).`);
    await session.disarm(args.flags.all ? null : name!);
    const ended = args.flags.all ? session.probes.all().map((p) => p.name) : [name!];
    await Promise.all(ended.map((n) => session.probes.waitForEnd(n, 3000)));
    ctx.io.stream("stdout", `Disarmed ${args.flags.all ? "every probe" : name}.\n`);
  },
};

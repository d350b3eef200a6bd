/**
 * %whatif / %%whatif: re-run recorded calls (a call probe's rows, recorded with --args) or recorded
 * messages (a state probe's rows: the callback with the recorded state and message) on the shadow node —
 * with other arguments, another state, or replacement code — and compare with what was recorded. The node
 * the rows came from is never changed: the shadow node has no connection to it (see
 * elixir_agent/lib/lumin_bridge/shadow.ex), and the bridge only reads the node's code from it.
 */
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { resolveTable } from "../kernel/magics/tableArgument";
import { NODE_FLAG } from "../kernel/magics/nodeFlag";
import { tableMeta } from "../kernel/tables/tableMeta";
import { whatifTable } from "../kernel/tables/tables";
import { callRows, stateRows, wireRows } from "../kernel/tables/whatifRows";
import { hasColumn } from "../kernel/analysis/columns";
import { showingPage } from "../kernel/display/tableBundle";
import type { ColumnTable } from "../kernel/analysis/aq";

/** The table kinds a what-if replays, and how it says what it cannot replay. */
function kindOf(table: ColumnTable, text: string): "calls" | "state" {
  const kind = tableMeta(table)?.kind ?? (hasColumn(table, "args") && hasColumn(table, "function") ? "calls" : hasColumn(table, "state_before") ? "state" : "other");
  if (kind === "calls" || kind === "state") return kind;
  throw new MagicUsageError(
    `%whatif: ${text} is a ${kind} table; a what-if replays a call probe's rows (armed with --args) or a state probe's rows (%probe --state NAME).`,
  );
}

export const whatif = defineMagic({
  name: "whatif",
  kind: "both",
  summary: "Replay recorded calls or GenServer messages on a shadow node: other arguments, state or code; compared with what was recorded.",
  details: `TABLE is a call probe (armed with --args) or a state probe (%probe --state NAME), by name, or a
TypeScript expression giving such a table. Each selected row is re-run on the shadow node — a local node
the kernel starts, with no connection to any node, loaded with the recorded node's own object code — and
the result is a table: recorded and replayed result (or exception), whether they are the same, recorded
and replayed duration, new state, a readable diff, and the messages the replay tried to send (listed, not
delivered). A call made through a registered name or to a process of the node ends the replay at once
with a would_call row (its answer would have to come from the node). The table is kept under --as
(%events NAME, %chart whatif NAME, %explain NAME).

Calls: apply(M, F, Args) per row; --args is a function of the recorded argument list giving the list to
use. State: the callback (handle_call/3, handle_cast/2, handle_info/2, a gen_statem's state function or
handle_event/4) with the recorded message and state; --state is a function of the recorded state giving
the state to use. Functions are written in the node's language.

%%whatif: the cell's body is replacement code — Elixir defmodules, or an Erlang module (-module(…).) —
compiled on the shadow node only, before the rows are replayed.

Examples:
  %whatif prices
  const w = %whatif prices --where "d => d.duration_us > 1000" --as slow
  %whatif prices --args "fn [item, qty] -> [item, qty * 2] end"
  %whatif inventory --state "fn stock -> Map.put(stock, \\"apple\\", 0) end"
  %%whatif orders --as patched
  defmodule Shop.Orders do … end`,
  positionals: [{ name: "TABLE", help: "a call or state probe's name, or a TypeScript expression giving its table", completes: "probes" }],
  flags: [
    { name: "where", takes: "value", valueName: "EXPR", help: "only the rows where this Arquero expression holds, e.g. \"d => d.duration_us > 1000\"" },
    { name: "args", takes: "value", valueName: "FN", help: "calls: a function of the recorded argument list returning the arguments to replay with" },
    { name: "state", takes: "value", valueName: "FN", help: "state rows: a function of the recorded state returning the state to replay with" },
    { name: "module", takes: "value", valueName: "MOD", help: "state rows: the callback module, when the recorded process is gone" },
    { name: "timeout", takes: "value", type: "duration", default: "5s", valueName: "DURATION", help: "stop a replay that runs longer than this" },
    { name: "as", takes: "value", valueName: "NAME", help: "the result's name (default w1, w2, …)" },
    NODE_FLAG,
  ],
  showsResult: true,
  async run({ args, body, kind: written }, ctx) {
    const text = args.positionals.TABLE;
    const recorded = (await resolveTable(text, "whatif", ctx)) as ColumnTable;
    const kind = kindOf(recorded, text);
    const meta = tableMeta(recorded);
    if (kind === "calls" && args.flags.state) throw new MagicUsageError("%whatif: --state is for a state probe's rows; for calls, change the arguments with --args.");
    if (kind === "state" && args.flags.args) throw new MagicUsageError("%whatif: --args is for a call probe's rows; for state rows, change the state with --state.");
    if (kind === "state" && Array.isArray(meta?.spec?.path) && (meta!.spec!.path as unknown[]).length) {
      throw new MagicUsageError(`%whatif: ${text} recorded only part of the state (--path ${(meta!.spec!.path as string[]).join(".")}), so its callbacks cannot be re-run; arm the state probe again without --path.`);
    }
    let table = recorded;
    if (args.flags.where) {
      try {
        table = recorded.filter(args.flags.where) as ColumnTable;
      } catch (e) {
        throw new MagicUsageError(`%whatif: --where ${args.flags.where} is not an Arquero expression over the table's columns (${(e as Error).message}); write it as "d => d.duration_us > 1000".`);
      }
    }
    if (table.numRows() === 0) throw new MagicUsageError(`%whatif: no rows to replay${args.flags.where ? ` (--where ${args.flags.where} selected none)` : ` (${text} is empty)`}.`);
    if (kind === "calls" && (!hasColumn(table, "args") || (table.array("args") as ArrayLike<unknown>).length === 0 || Array.from(table.array("args") as ArrayLike<unknown>).every((a) => a == null))) {
      throw new MagicUsageError(`%whatif: ${text} was recorded without arguments, so its calls cannot be re-run; arm the probe again with --args (e.g. %probe Mod.fun/2 --args).`);
    }
    const node = args.flags.node ? ctx.beam.node(args.flags.node).node : (meta?.node ?? ctx.beam.node().node);
    ctx.beam.node(node); // attached (a capture from another node replays with that node's code only if it is)
    const code = written === "cell" ? (body ?? "").trim() : "";
    if (written === "cell" && !code) throw new MagicUsageError("%%whatif: the cell's body is the replacement code (an Elixir defmodule, or an Erlang -module); it is empty.");
    const name = args.flags.as ?? ctx.beam.probes.nextName("w");
    if (ctx.beam.probes.get(name)) throw new MagicUsageError(`%whatif: --as ${name} is a probe's name already; pick another name for the what-if.`);
    const rows = kind === "calls" ? callRows(table) : stateRows(table);
    const pid = kind === "state" && hasColumn(table, "pid") ? String((table.array("pid") as ArrayLike<unknown>)[0]) : null;
    const reply = await ctx.beam.whatif({
      node,
      kind,
      rows: wireRows(rows) as never,
      args_fun: args.flags.args ?? null,
      state_fun: args.flags.state ?? null,
      code: code || null,
      code_language: /^\s*(%.*\n\s*)*-module\s*\(/.test(code) ? "erlang" : "elixir",
      timeout_ms: args.flags.timeout,
      module: args.flags.module ?? null,
      pid,
    });
    const notes = [...reply.notes];
    if (reply.started_ms !== null) notes.push(`the shadow node started in ${reply.started_ms} ms (it is reused by the next what-if)`);
    const source = `${text}${args.flags.where ? ` where ${args.flags.where}` : ""}${code ? " with replacement code" : ""}`;
    const result = await whatifTable(reply.batch, { name, node, source, syntax: ctx.beam.syntaxOf(node), notes });
    ctx.beam.probes.addCapture(name, result);
    return showingPage(result, {});
  },
});

/**
 * %suggest_tests TABLE: regression tests written from a call probe's rows — an ExUnit module (EUnit for
 * Erlang modules), one test per behaviour seen — checked on the shadow node against the code the calls were
 * recorded from before the file is written. The writing and the run happen on the shadow node
 * (elixir_agent/src/lumin_suggest.erl); the recorded node is only read from.
 */
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { resolveTable } from "../kernel/magics/tableArgument";
import { NODE_FLAG } from "../kernel/magics/nodeFlag";
import { tableMeta } from "../kernel/tables/tableMeta";
import { callRows, wireRows } from "../kernel/tables/whatifRows";
import { hasColumn } from "../kernel/analysis/columns";
import type { ColumnTable } from "../kernel/analysis/aq";

/** `Shop.PricingRecordedTest` → `shop_pricing_recorded_test`. */
const snake = (name: string) => name.replace(/\./g, "_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

export const suggestTests = defineMagic({
  name: "suggest_tests",
  kind: "line",
  summary: "Write ExUnit (or EUnit) tests from a call probe's rows, one per behaviour seen, checked on the shadow node before writing.",
  details: `TABLE is a call probe armed with --args (or a TypeScript expression giving its table). Calls are
grouped by behaviour — the same function, arguments of the same shape, a result of the same shape or the
same exception — and each group becomes one test asserting up to --examples recorded calls of it with
their exact recorded results (exceptions as assert_raise / ?assertError). Pids, references, funs, terms the
node cut and values it redacted ([redacted]) are never written: those calls are left out, with a comment
saying why. Before the file is written the tests run on the shadow node against the code that was recorded
(fetched from the node); if any fails there, nothing is written and the failures are shown.

The module is ExUnit (MODRecordedTest) unless every recorded module is Erlang (mod_recorded_tests, EUnit).
The file goes to --out, by default the module's name in snake case in the notebook's folder; put it under
your app's test/ and run mix test (or rebar3 eunit).

Examples:
  %suggest_tests prices
  %suggest_tests prices --module Shop.PricingTest --out test/pricing_test.exs --examples 5`,
  positionals: [{ name: "TABLE", help: "a call probe's name (armed with --args), or a TypeScript expression giving its table", completes: "probes" }],
  flags: [
    { name: "module", takes: "value", valueName: "M", help: "the test module's name (default: the first recorded module's, + RecordedTest)" },
    { name: "out", takes: "value", valueName: "FILE", help: "where to write it (default: the module's name in snake case, .exs or .erl)" },
    { name: "examples", takes: "value", type: "int", default: "3", valueName: "N", help: "recorded calls asserted per test, spread over the behaviour's arguments" },
    { name: "where", takes: "value", valueName: "EXPR", help: "only the rows where this Arquero expression holds" },
    { name: "force", takes: "none", help: "overwrite --out if it exists" },
    NODE_FLAG,
  ],
  showsResult: false,
  async run({ args }, ctx) {
    const text = args.positionals.TABLE;
    let table = (await resolveTable(text, "suggest_tests", ctx)) as ColumnTable;
    const meta = tableMeta(table);
    if ((meta?.kind ?? (hasColumn(table, "function") ? "calls" : "other")) !== "calls") {
      throw new MagicUsageError(`%suggest_tests: ${text} is a ${meta?.kind ?? "other"} table; tests are written from a call probe's rows (armed with --args).`);
    }
    if (args.flags.where) {
      try {
        table = table.filter(args.flags.where) as ColumnTable;
      } catch (e) {
        throw new MagicUsageError(`%suggest_tests: --where ${args.flags.where} is not an Arquero expression over the table's columns (${(e as Error).message}).`);
      }
    }
    if (!hasColumn(table, "args") || Array.from(table.array("args") as ArrayLike<unknown>).every((a) => a == null)) {
      throw new MagicUsageError(`%suggest_tests: ${text} was recorded without arguments, so no call can be written as a test; arm the probe again with --args.`);
    }
    if (args.flags.examples < 1) throw new MagicUsageError("%suggest_tests: --examples takes 1 or more.");
    if (args.flags.module && !/^([A-Z][A-Za-z0-9_]*(\.[A-Z][A-Za-z0-9_]*)*|[a-z][a-z0-9_]*)$/.test(args.flags.module)) {
      throw new MagicUsageError(`%suggest_tests: --module ${args.flags.module} is not a module name (Elixir: Shop.PricingTest; Erlang: shop_pricing_tests).`);
    }
    const node = args.flags.node ? ctx.beam.node(args.flags.node).node : (meta?.node ?? ctx.beam.node().node);
    const rows = callRows(table);
    const header = [
      `Written by %suggest_tests from ${rows.length.toLocaleString("en")} call${rows.length === 1 ? "" : "s"} recorded on ${node}${meta?.probe ? ` (probe ${meta.probe})` : ""}:`,
      "one test per behaviour seen (the same function, arguments of one shape, one kind of result or exception),",
      "each asserting recorded calls with their recorded results. Checked against the recorded code before it was written.",
    ];
    const r = await ctx.beam.suggestTests({ node, rows: wireRows(rows) as never, module: args.flags.module ?? null, examples: args.flags.examples, header });
    const lines: string[] = [];
    if (r.tests === 0) {
      throw new Error(`%suggest_tests: no recorded call of ${text} can be written as a test; nothing was written.${r.left_out.length ? `\n${r.left_out.join("\n")}` : ""}`);
    }
    if (r.failures > 0) {
      throw new Error(
        `%suggest_tests: ${r.failures} of ${r.total} tests written from ${text} fail on the shadow node against the very code they were recorded from ` +
          `(do the results depend on more than the arguments — time, state, another process?); nothing was written.\n\n${r.output.slice(-4000)}`,
      );
    }
    const out = path.resolve(args.flags.out ?? `${snake(r.module)}.${r.language === "elixir" ? "exs" : "erl"}`);
    if (existsSync(out) && !args.flags.force) throw new MagicUsageError(`%suggest_tests: ${out} exists; pick another --out, or add --force to overwrite it.`);
    writeFileSync(out, r.code);
    lines.push(
      `Wrote ${out}: ${r.tests} test${r.tests === 1 ? "" : "s"} (${r.language === "elixir" ? "ExUnit" : "EUnit"} module ${r.module}) from ${r.calls.toLocaleString("en")} recorded call${r.calls === 1 ? "" : "s"}; ` +
        `run on the shadow node against the recorded code: ${r.total - r.failures} of ${r.total} pass.`,
      ...r.left_out,
      ...r.notes,
    );
    ctx.io.stream("stdout", `${lines.join("\n")}\n`);
    return { file: out, tests: r.tests, passed: r.total - r.failures, code: r.code, leftOut: r.left_out };
  },
});

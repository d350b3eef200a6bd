/** %top, %tree, %apps, %ets, %state, %info: immediate looks at a node, no probe armed. */
import { defineMagic, type Magic } from "../kernel/magics/declaration";
import { NODE_FLAG } from "../kernel/magics/nodeFlag";
import { snapshotTable } from "../kernel/tables/tables";
import { Term } from "../kernel/beam/term";
import { Atom } from "../kernel/beam/etf";

export const top = defineMagic({
  name: "top",
  kind: "line",
  summary: "The processes that stand out now, by reductions (a rate over 0.5 s), memory, mailbox or heap.",
  flags: [
    { name: "n", short: "n", takes: "value", type: "int", default: "10", valueName: "N", help: "how many processes" },
    { name: "by", takes: "value", default: "reductions", valueName: "WHAT", help: "what to rank by", choices: ["reductions", "memory", "mailbox", "heap"] },
    NODE_FLAG,
  ],
  showsResult: true,
  async run({ args }, ctx) {
    const node = ctx.beam.node(args.flags.node).node;
    const { n, by } = args.flags;
    return snapshotTable(await ctx.beam.snapshot(node, "top", { n, by: new Atom(by) }), "top", node);
  },
});

export const tree = defineMagic({
  name: "tree",
  kind: "line",
  summary: "A supervision tree as a table: supervisor, child id, pid, type, restart, strategy.",
  positionals: [{ name: "APP", help: "an application (default: every running application)", optional: true }],
  flags: [NODE_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const node = ctx.beam.node(args.flags.node).node;
    const app = args.positionals.APP?.replace(/^:/, "") ?? null;
    return snapshotTable(await ctx.beam.snapshot(node, "tree", { app }), "tree", node);
  },
});

export const apps = defineMagic({
  name: "apps",
  kind: "line",
  summary: "Applications on the node: loaded and running, with versions.",
  flags: [NODE_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const node = ctx.beam.node(args.flags.node).node;
    return snapshotTable(await ctx.beam.snapshot(node, "apps", {}), "apps", node);
  },
});

export const ets = defineMagic({
  name: "ets",
  kind: "line",
  summary: "ETS tables by memory.",
  flags: [{ name: "n", short: "n", takes: "value", type: "int", default: "20", valueName: "N", help: "how many tables" }, NODE_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const node = ctx.beam.node(args.flags.node).node;
    return snapshotTable(await ctx.beam.snapshot(node, "ets", { n: args.flags.n }), "ets", node);
  },
});

function processMagic(name: "state" | "info", summary: string): Magic {
  return defineMagic({
    name,
    kind: "line",
    summary,
    positionals: [{ name: "TARGET", help: "a registered name (Shop.Inventory, :logger) or a pid (<0.123.0>)" }],
    flags: [NODE_FLAG],
    showsResult: true,
    async run({ args }, ctx) {
      const session = ctx.beam;
      const node = ctx.beam.node(args.flags.node).node;
      const term = await session.process(node, args.positionals.TARGET, name);
      return Term.of(term, session.syntaxOf(node));
    },
  });
}

export const state = processMagic("state", "A process's current state (:sys.get_state), as a term.");
export const info = processMagic("info", "A process's info: status, mailbox, memory, links, current stacktrace…");

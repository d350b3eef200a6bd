/** %top, %tree, %apps, %ets, %state, %info: immediate looks at a node, no probe armed. */
import type { MagicDeclaration } from "../kernel/magics/declaration";
import { batchTable, beam, NODE_FLAG, targetNode } from "./beamContext";
import { parsePositiveInt } from "../kernel/magics/parser";
import { Term } from "../kernel/beam/term";
import { Atom } from "../kernel/beam/etf";

export const top: MagicDeclaration = {
  name: "top",
  kind: "line",
  summary: "The processes that stand out now, by reductions (a rate over 0.5 s), memory, mailbox or heap.",
  flags: [
    { name: "n", short: "n", takes: "value", valueName: "N", help: "how many processes (default 10)" },
    { name: "by", takes: "value", valueName: "WHAT", help: "what to rank by (default reductions)", choices: ["reductions", "memory", "mailbox", "heap"] },
    NODE_FLAG,
  ],
  showsResult: true,
  async run({ args }, ctx) {
    const node = targetNode(ctx, args.flags.node);
    const n = typeof args.flags.n === "string" ? parsePositiveInt(args.flags.n, "-n") : 10;
    const by = typeof args.flags.by === "string" ? args.flags.by : "reductions";
    return batchTable(await beam(ctx).snapshot(node, "top", { n, by: new Atom(by) }), "top", node);
  },
};

export const tree: MagicDeclaration = {
  name: "tree",
  kind: "line",
  summary: "A supervision tree as a table: supervisor, child id, pid, type, restart, strategy.",
  positionals: [{ name: "APP", help: "an application (default: every running application)", optional: true }],
  flags: [NODE_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const node = targetNode(ctx, args.flags.node);
    const app = typeof args.positionals.APP === "string" ? args.positionals.APP.replace(/^:/, "") : null;
    return batchTable(await beam(ctx).snapshot(node, "tree", { app }), "tree", node);
  },
};

export const apps: MagicDeclaration = {
  name: "apps",
  kind: "line",
  summary: "Applications on the node: loaded and running, with versions.",
  flags: [NODE_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const node = targetNode(ctx, args.flags.node);
    return batchTable(await beam(ctx).snapshot(node, "apps", {}), "apps", node);
  },
};

export const ets: MagicDeclaration = {
  name: "ets",
  kind: "line",
  summary: "ETS tables by memory.",
  flags: [{ name: "n", short: "n", takes: "value", valueName: "N", help: "how many tables (default 20)" }, NODE_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const node = targetNode(ctx, args.flags.node);
    const n = typeof args.flags.n === "string" ? parsePositiveInt(args.flags.n, "-n") : 20;
    return batchTable(await beam(ctx).snapshot(node, "ets", { n }), "ets", node);
  },
};

function processMagic(name: "state" | "info", summary: string): MagicDeclaration {
  return {
    name,
    kind: "line",
    summary,
    positionals: [{ name: "TARGET", help: "a registered name (Shop.Inventory, :logger) or a pid (<0.123.0>)" }],
    flags: [NODE_FLAG],
    showsResult: true,
    async run({ args }, ctx) {
      const session = beam(ctx);
      const node = targetNode(ctx, args.flags.node);
      const term = await session.process(node, String(args.positionals.TARGET), name);
      return Term.of(term, session.syntaxOf(node));
    },
  };
}

export const state = processMagic("state", "A process's current state (:sys.get_state), as a term.");
export const info = processMagic("info", "A process's info: status, mailbox, memory, links, current stacktrace…");

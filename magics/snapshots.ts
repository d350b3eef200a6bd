/** %top, %tree, %apps, %ets, %state, %info: immediate looks at a node, no probe armed. */
import { defineMagic, MagicUsageError, type Magic, type MagicContext } from "../kernel/magics/declaration";
import { NODE_FLAG, NODES_FLAG } from "../kernel/magics/nodeFlag";
import { clusterSnapshotTable, snapshotTable } from "../kernel/tables/tables";
import type { SnapshotKind } from "../kernel/beam/protocol";
import type { ColumnTable } from "../kernel/analysis/aq";
import { setTableMeta, tableMeta } from "../kernel/tables/tableMeta";
import { Term } from "../kernel/beam/term";
import { Atom } from "../kernel/beam/etf";

/**
 * A snapshot of the node (--node) or of several (--nodes) as one table. Asked of every node at once; a node
 * that fails is named on stderr with its reason and the table has the others' rows.
 */
async function snapshotOf(magic: string, kind: SnapshotKind, options: Record<string, unknown>, flags: { node?: string; nodes?: string }, ctx: MagicContext): Promise<ColumnTable> {
  const session = ctx.beam;
  if (flags.nodes === undefined) {
    const node = session.node(flags.node).node;
    return snapshotTable(await session.snapshot(node, kind, options), kind, node);
  }
  if (flags.node !== undefined) throw new MagicUsageError(`%${magic}: give --node or --nodes, not both.`);
  let nodes: string[];
  try {
    nodes = session.nodesMatching(flags.nodes);
  } catch (e) {
    throw new MagicUsageError(`%${magic}: ${(e as Error).message}.`);
  }
  const results = await Promise.allSettled(nodes.map((n) => session.snapshot(n, kind, options)));
  const ok: { node: string; bytes: Uint8Array }[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") ok.push({ node: nodes[i], bytes: r.value });
    else ctx.io.stream("stderr", `%${magic}: ${nodes[i]} could not answer: ${(r.reason as Error).message}\n`);
  });
  if (!ok.length) throw new Error(`%${magic}: none of the ${nodes.length} nodes answered`);
  return clusterSnapshotTable(ok.map((o) => o.bytes), kind, ok.map((o) => o.node));
}

/** For %top across nodes: what each ranking orders the merged rows by. */
const TOP_ORDER = { reductions: "reductions_per_s", memory: "memory", mailbox: "message_queue_len", heap: "heap_size" } as const;

export const top = defineMagic({
  name: "top",
  kind: "line",
  summary: "The processes that stand out now, by reductions (a rate over 0.5 s), memory, mailbox or heap.",
  flags: [
    { name: "n", short: "n", takes: "value", type: "int", default: "10", valueName: "N", help: "how many processes" },
    { name: "by", takes: "value", default: "reductions", valueName: "WHAT", help: "what to rank by", choices: ["reductions", "memory", "mailbox", "heap"] },
    NODE_FLAG,
    NODES_FLAG,
  ],
  details: `With --nodes, the top N of each node, in one table ranked across the cluster (each row names its node).

Examples:
  %top -n 5 --by memory
  %top --nodes all`,
  showsResult: true,
  async run({ args }, ctx) {
    const { n, by } = args.flags;
    const table = await snapshotOf("top", "top", { n, by: new Atom(by) }, args.flags, ctx);
    if (args.flags.nodes === undefined) return table;
    const { desc } = await import("arquero");
    const ranked = table.orderby(desc(TOP_ORDER[by])) as ColumnTable;
    setTableMeta(ranked, tableMeta(table)!);
    return ranked;
  },
});

export const tree = defineMagic({
  name: "tree",
  kind: "line",
  summary: "A supervision tree as a table: supervisor, child id, pid, type, restart, strategy.",
  positionals: [{ name: "APP", help: "an application (default: every running application)", optional: true }],
  flags: [NODE_FLAG, NODES_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    const app = args.positionals.APP?.replace(/^:/, "") ?? null;
    return snapshotOf("tree", "tree", { app }, args.flags, ctx);
  },
});

export const apps = defineMagic({
  name: "apps",
  kind: "line",
  summary: "Applications on the node: loaded and running, with versions.",
  flags: [NODE_FLAG, NODES_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    return snapshotOf("apps", "apps", {}, args.flags, ctx);
  },
});

export const ets = defineMagic({
  name: "ets",
  kind: "line",
  summary: "ETS tables by memory.",
  flags: [{ name: "n", short: "n", takes: "value", type: "int", default: "20", valueName: "N", help: "how many tables (of each node, with --nodes)" }, NODE_FLAG, NODES_FLAG],
  showsResult: true,
  async run({ args }, ctx) {
    return snapshotOf("ets", "ets", { n: args.flags.n }, args.flags, ctx);
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

/** %chart KIND TABLE: the common views of kernel/charts as one-line shortcuts. */
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { resolveTable } from "../kernel/magics/tableArgument";

type Charts = typeof import("../kernel/charts");
/** Each kind: the chart function, and the table kind it reads. The chart library loads on first use. */
const KINDS = {
  latency: { draw: (c: Charts, t: any) => c.latencyChart(t), reads: "calls" },
  timeline: { draw: (c: Charts, t: any, max?: number) => c.timelineChart(t, max ? { maxSpans: max } : {}), reads: "calls" },
  flame: { draw: (c: Charts, t: any) => c.flameChart(t), reads: "calls" },
  sequence: { draw: (c: Charts, t: any, max?: number) => c.sequenceChart(t, max ? { maxMessages: max } : {}), reads: "messages" },
  tree: { draw: (c: Charts, t: any) => c.treeChart(t), reads: "tree (%tree)" },
  state: { draw: (c: Charts, t: any) => c.stateHistoryChart(t), reads: "state" },
  metrics: { draw: (c: Charts, t: any) => c.metricsChart(t), reads: "metrics" },
  whatif: { draw: (c: Charts, t: any) => c.whatifChart(t), reads: "whatif (%whatif)" },
  summary: { draw: (c: Charts, t: any) => c.summaryChart(t), reads: "summary (%probe … --summary)" },
} as const;

export const chart = defineMagic({
  name: "chart",
  kind: "line",
  summary: "Draw a probe's table: latency, timeline, flame, sequence, tree, state, metrics or summary; or a what-if's durations.",
  details: `TABLE is a probe's name (its events) or a TypeScript expression giving an Arquero table.
The same charts are functions in every cell: latencyChart(t), timelineChart(t), flameChart(t),
sequenceChart(t), treeChart(t), stateHistoryChart(t), metricsChart(t), whatifChart(t),
summaryChart(t, { function }).

${Object.entries(KINDS).map(([k, v]) => `  ${k.padEnd(9)} reads a ${v.reads} table`).join("\n")}

Examples:
  %chart latency prices
  %chart timeline orders --max 500
  %chart tree %tree`,
  positionals: [
    { name: "KIND", help: "the view", choices: Object.keys(KINDS) },
    { name: "TABLE", help: "a probe's name, or a TypeScript expression giving a table", rest: true, completes: "probes" },
  ],
  flags: [{ name: "max", takes: "value", type: "int", valueName: "N", help: "timeline: most spans drawn; sequence: most messages drawn" }],
  showsResult: true,
  async run({ args }, ctx) {
    const kind = args.positionals.KIND as keyof typeof KINDS;
    const text = args.positionals.TABLE.join(" ");
    if (!text) throw new MagicUsageError("%chart: name the table to draw, e.g. %chart latency p1.");
    const table = await resolveTable(text, "chart", ctx);
    return KINDS[kind].draw(require("../kernel/charts") as Charts, table, args.flags.max);
  },
});

/** %explain TABLE: a table summarised in plain sentences (kernel/analysis/explain.ts). */
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { resolveTable } from "../kernel/magics/tableArgument";

export const explain = defineMagic({
  name: "explain",
  kind: "line",
  summary: "Summarise a table in sentences: the slowest calls and where their time went, outliers, errors.",
  details: `TABLE is a probe's name or a TypeScript expression giving an Arquero table (calls, messages, logs…).

Examples:
  %explain orders
  const s = %explain calls.filter(d => d.duration_us > 1000)`,
  positionals: [{ name: "TABLE", help: "a probe's name, or a TypeScript expression giving a table", rest: true, completes: "probes" }],
  showsResult: true,
  async run({ args }, ctx) {
    const text = args.positionals.TABLE.join(" ");
    if (!text) throw new MagicUsageError("%explain: name the table to explain, e.g. %explain p1.");
    const { explain: explainTable } = require("../kernel/analysis") as typeof import("../kernel/analysis");
    const sentences = explainTable(await resolveTable(text, "explain", ctx));
    ctx.report.recordText(`%explain ${text}`, sentences);
    return {
      sentences,
      [Symbol.for("Jupyter.display")]: () => ({
        "text/plain": sentences.map((s) => `• ${s}`).join("\n"),
        "text/markdown": sentences.map((s) => `- ${s}`).join("\n"),
      }),
    };
  },
});

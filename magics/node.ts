/** %node start: a local node this kernel starts and owns (demos, tours, tests), stopped with the kernel. */
import { randomBytes } from "node:crypto";
import { defineMagic } from "../kernel/magics/declaration";
import { describeNode } from "./connect";

export const node = defineMagic({
  name: "node",
  kind: "line",
  summary: "Start a local node owned by this kernel (stopped when the kernel stops), and attach to it.",
  details: `With --app, DIR is a Mix project: it is compiled, then run with mix run --no-halt.

Examples:
  %node start
  %node start demo
  %node start shop --app apps/shop`,
  positionals: [
    { name: "ACTION", help: "what to do", choices: ["start"] },
    { name: "NAME", help: "the node's short name (letters, digits, _ and -); default lumin_ and a random suffix", optional: true },
  ],
  flags: [{ name: "app", takes: "value", valueName: "DIR", help: "a Mix project to compile and run on the node" }],
  showsResult: false,
  async run({ args }, ctx) {
    const name = args.positionals.NAME ?? `lumin_${randomBytes(3).toString("hex")}`;
    const info = await ctx.beam.startNode(name, args.flags.app ?? null);
    ctx.io.stream("stdout", describeNode(info));
    return info;
  },
});

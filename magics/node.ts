/** %node start: a local node this kernel starts and owns (demos, tours, tests), stopped with the kernel. */
import type { MagicDeclaration } from "./declaration";
import { beam } from "./beamContext";
import { describeNode } from "./connect";

export const node: MagicDeclaration = {
  name: "node",
  kind: "line",
  summary: "Start a local node owned by this kernel (stopped when the kernel stops), and attach to it.",
  details: `With --app, DIR is a Mix project: it is compiled, then run with mix run --no-halt.

Examples:
  %node start demo
  %node start shop --app apps/shop`,
  positionals: [
    { name: "ACTION", help: "what to do", choices: ["start"] },
    { name: "NAME", help: "the node's short name (letters, digits, _ and -)" },
  ],
  flags: [{ name: "app", takes: "value", valueName: "DIR", help: "a Mix project to compile and run on the node" }],
  showsResult: false,
  async run({ args }, ctx) {
    const info = await beam(ctx).startNode(String(args.positionals.NAME), typeof args.flags.app === "string" ? args.flags.app : null);
    ctx.io.stream("stdout", describeNode(info));
    return info;
  },
};

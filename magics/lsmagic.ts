/** %lsmagic: every magic, line and cell, with its one-line summary. */
import { defineMagic, type Magic } from "../kernel/magics/declaration";

export const lsmagic = defineMagic({
  name: "lsmagic",
  kind: "line",
  summary: "List every magic with a one-line summary.",
  showsResult: false,
  async run(_call, { io, magics: registry }) {
    const magics = registry.all();
    const line = magics.filter((m) => m.kind !== "cell");
    const cell = magics.filter((m) => m.kind !== "line");
    const width = Math.max(...magics.map((m) => m.name.length)) + 3;
    const section = (title: string, prefix: string, list: readonly Magic[]) =>
      [title, ...list.map((m) => `  ${(prefix + m.name).padEnd(width)} ${m.summary}`)].join("\n");
    io.stream("stdout", `${section("Line magics:", "%", line)}\n\n${section("Cell magics:", "%%", cell)}\n\nType %name? for a magic's help.\n`);
    return magics.map((m) => m.name);
  },
});

/** %lsmagic: every magic, line and cell, with its one-line summary. */
import { defineMagic, type Magic } from "../kernel/magics/declaration";
import { escapeHtml } from "../kernel/display/textBundle";

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
    const text = `${section("Line magics:", "%", line)}\n\n${section("Cell magics:", "%%", cell)}\n\nType %name? for a magic's help.\n`;
    // An HTML twin as a two-column table: the summaries wrap between words beside their names (classic
    // Notebook breaks text/plain anywhere, mid-word).
    const rows = (prefix: string, list: readonly Magic[]) =>
      list.map((m) => `<tr><td style="text-align:left;vertical-align:top;white-space:nowrap;font-family:monospace">${escapeHtml(prefix + m.name)}</td><td style="text-align:left">${escapeHtml(m.summary)}</td></tr>`).join("");
    const html = [
      `<div class="elixirlumin-lsmagic">`,
      `<div style="font-weight:600">Line magics</div><table>${rows("%", line)}</table>`,
      `<div style="font-weight:600">Cell magics</div><table>${rows("%%", cell)}</table>`,
      `<div>Type %name? for a magic's help.</div></div>`,
    ].join("");
    io.displayBundle({ "text/plain": text, "text/html": html });
    return magics.map((m) => m.name);
  },
});

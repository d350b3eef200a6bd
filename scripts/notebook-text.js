/**
 * What a reader sees of an executed notebook as text, cell by cell — the comparison a replayed notebook must
 * pass against the live run that recorded it (test/support/nbconvert.ts).
 *
 * Per code cell: stream text, the text/plain of displays and results, and errors as `ename: evalue`. Left
 * aside: the cell that says %record or %replay (it differs by design), the line a replayed cell adds to say
 * it was replayed, the folder the notebook ran in (a temporary one), and times the notebook prints.
 */
"use strict";

const REPLAYED = "↺ replayed";

const join = (v) => (Array.isArray(v) ? v.join("") : typeof v === "string" ? v : "");

/** Times printed by the kernel itself rather than recorded from a node (%time's wall time). */
function withoutTimes(text) {
  return text.replace(/^(Wall time: ).*$/gm, "$1…");
}

/** Each code cell's text (null for the %record / %replay cell), with `folder` written as <folder>. */
function cellTexts(notebook, folder) {
  return notebook.cells
    .filter((c) => c.cell_type === "code")
    .map((c) => {
      if (/^\s*%(record|replay)\b/.test(join(c.source))) return null;
      const text = (c.outputs ?? [])
        .map((o) => {
          if (o.output_type === "stream") return join(o.text).split("\n").filter((l) => !l.startsWith(REPLAYED)).join("\n");
          if (o.output_type === "display_data" || o.output_type === "execute_result") return join(o.data?.["text/plain"]);
          if (o.output_type === "error") return `${o.ename}: ${o.evalue}`;
          return "";
        })
        .filter(Boolean)
        .join("\n");
      return withoutTimes(folder ? text.split(folder).join("<folder>") : text);
    });
}

module.exports = { cellTexts, REPLAYED };

/**
 * Every shipped notebook re-run from its shipped recording, with no node: `%replay` in place of its `%record`,
 * from a copy of the notebook and its recording in a temporary folder outside the repository that holds no
 * sample app, so no node could start (and none does: the run's processes are watched). Each code cell's text
 * must be what the recorded run showed (its NAME.outputs.json, written when the recording was made by
 * scripts/record-notebooks.js), printed times aside. A notebook whose node magics changed since its
 * recording fails here with the divergence error: record it again with that script.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/jupyter";
import { replayNotebook } from "../support/nbconvert";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { cellTexts } = require("../../scripts/notebook-text") as { cellTexts: (nb: unknown, folder?: string) => (string | null)[] };

const notebooks = ["notebooks", "notebooks/investigations", "notebooks/tours"].flatMap((d) =>
  readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith(".ipynb") && !f.includes(".executed.")).map((f) => `${d}/${f}`),
);

describe.each(notebooks)("%s replayed from its recording", (notebook) => {
  it("shows, cell by cell, the text its recorded run showed, with no BEAM process started", async () => {
    const started = Date.now();
    const run = await replayNotebook(notebook, { timeoutSec: 60 });
    try {
      const name = path.basename(notebook, ".ipynb");
      const recorded = JSON.parse(readFileSync(path.join(ROOT, path.dirname(notebook), "recordings", `${name}.outputs.json`), "utf8"));
      const replayed = cellTexts(run.notebook, run.folder);
      expect(run.beamSeen).toEqual([]);
      expect(replayed).toEqual(recorded);
      // Said in the %replay cell, and in each replayed cell.
      const text = (run.notebook.cells as { outputs?: { text?: string | string[] }[] }[]).flatMap((c) => c.outputs ?? []).map((o) => [o.text ?? ""].flat().join("")).join("");
      expect(text).toMatch(/Replaying recordings\/\S+: recorded by ElixirLumin/);
      expect(text).toContain("↺ replayed: answered from the recording in");
    } finally {
      run.cleanup();
    }
    void started;
  }, 300_000);
});

/**
 * Every shipped notebook re-run from its shipped recording, with no node: `%replay` in place of its `%record`,
 * from a copy of the notebook and its recording in a temporary folder outside the repository that holds no
 * sample app, so no node could start (and none does: the run's processes are watched). It must run to the
 * end without an error — a notebook whose node magics changed since its recording fails here with the
 * divergence error (record it again: node scripts/record-notebooks.js NOTEBOOK). Cell-by-cell equality with
 * the live run is checked where the notebooks run live (notebooks.test.ts, tours.test.ts), against the
 * recording that run makes, so that a change to how the kernel shows things never leaves a stale baseline.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/jupyter";
import { joinText, replayNotebook, type Cell } from "../support/nbconvert";

const notebooks = ["notebooks", "notebooks/investigations", "notebooks/tours"].flatMap((d) =>
  readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith(".ipynb") && !f.includes(".executed.")).map((f) => `${d}/${f}`),
);

describe.each(notebooks)("%s, replayed from its shipped recording", (notebook) => {
  it("runs to the end with no node and no error, every node magic answered from the recording", async () => {
    const name = path.basename(notebook, ".ipynb");
    const manifest = JSON.parse(readFileSync(path.join(ROOT, path.dirname(notebook), "recordings", name, "manifest.json"), "utf8"));
    const run = await replayNotebook(notebook, { timeoutSec: 60 });
    try {
      const cells = run.notebook.cells as Cell[];
      const errors = cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}`));
      expect(errors).toEqual([]);
      expect(run.beamSeen).toEqual([]);
      const text = cells.flatMap((c) => c.outputs ?? []).map((o) => joinText(o.text)).join("");
      expect(text).toMatch(/Replaying recordings\/\S+: recorded by ElixirLumin/);
      expect(text).toContain("↺ replayed: answered from the recording in");
      // Kept small.
      expect(manifest.total_bytes).toBeLessThan(1_000_000);
    } finally {
      run.cleanup();
    }
  }, 300_000);
});

/**
 * A recording's compiled TypeScript cells (cells/HASH.json, HASH from kernel/evaluation/compiledCellStore.ts):
 * `%record` keeps each cell the notebook compiled, `%replay` gives them back, so a replayed notebook's cells run
 * without waiting for the compiler to start. Plain JSON: the cell's JavaScript and the declarations it leaves.
 *
 * A replay only reads: the recording is the evidence of the recorded run, and a replay never writes into it.
 * Not evidence: a recording without them (made before they were kept) replays the same, compiling each cell.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CompiledCellStore, CompiledCode } from "../evaluation/compiledCellStore";
import { keptFiles } from "./keptFiles";

export const CELLS = "cells";

const NAME = /^([0-9a-f]{64})\.json$/;

export class RecordedCells implements CompiledCellStore {
  private readonly files: Map<string, string>;

  constructor(
    private readonly dir: string,
    private readonly mode: "record" | "replay",
  ) {
    this.files = new Map([...keptFiles(dir, CELLS, mode, NAME)].map(([key, { file }]) => [key, file]));
  }

  get(key: string): CompiledCode | undefined {
    const file = this.files.get(key);
    if (!file) return undefined;
    try {
      const kept = JSON.parse(readFileSync(file, "utf8")) as Partial<CompiledCode>;
      // Anything else than a compiled cell (a file edited by hand, cut short) only means the cell is compiled.
      if (kept.kind !== "code" || typeof kept.js !== "string" || typeof kept.declarations !== "string" || !Array.isArray(kept.files)) return undefined;
      return { kind: "code", js: kept.js, declarations: kept.declarations, lastExpression: kept.lastExpression, topLevelAwait: Boolean(kept.topLevelAwait), files: [] };
    } catch {
      return undefined;
    }
  }

  put(key: string, compiled: CompiledCode): void {
    if (this.mode !== "record" || this.files.has(key)) return;
    const file = path.join(this.dir, CELLS, `${key}.json`);
    writeFileSync(file, `${JSON.stringify(compiled, null, 1)}\n`);
    this.files.set(key, file);
  }
}

import { describe, expect, it } from "vitest";
import { compiledCellKey, localCompiled, portableCompiled, ScopePaths, type CompiledCode } from "../../kernel/evaluation/compiledCellStore";

const here = new ScopePaths({ prelude: "/home/ana/lib/elixirlumin/dist/kernel/evaluation/prelude", arquero: "/home/ana/lib/node_modules/arquero" });
const there = new ScopePaths({ prelude: "/usr/lib/node_modules/elixirlumin/dist/kernel/evaluation/prelude", arquero: "/usr/lib/node_modules/arquero" });
const scopeHere = 'import { outliers } from "/home/ana/lib/elixirlumin/dist/kernel/evaluation/prelude";\nimport * as aq from "/home/ana/lib/node_modules/arquero";\n';
const scopeThere = 'import { outliers } from "/usr/lib/node_modules/elixirlumin/dist/kernel/evaluation/prelude";\nimport * as aq from "/usr/lib/node_modules/arquero";\n';
const V = "elixirlumin 0.4.0; tslab 1.0.22; arquero 8.0.3";

describe("a compiled cell's address", () => {
  it("is the same wherever the kernel is installed, and differs with the cell, its declarations, the scope it reaches or the versions", () => {
    const key = compiledCellKey("declare const t: aq.ColumnTable;\n", scopeHere, "outliers(t)", V, here);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(compiledCellKey("declare const t: aq.ColumnTable;\n", scopeThere, "outliers(t)", V, there)).toBe(key);
    for (const other of [
      compiledCellKey("declare const t: aq.ColumnTable;\n", scopeHere, "outliers(t) ", V, here),
      compiledCellKey("declare const t: number;\n", scopeHere, "outliers(t)", V, here),
      compiledCellKey("declare const t: aq.ColumnTable;\n", 'import * as aq from "/home/ana/lib/node_modules/arquero";\n', "outliers(t)", V, here),
      compiledCellKey("declare const t: aq.ColumnTable;\n", scopeHere, "outliers(t)", "elixirlumin 0.4.1; tslab 1.0.22; arquero 8.0.3", here),
    ])
      expect(other).not.toBe(key);
  });

  it("is none for a cell that imports anything, or whose earlier cells did: what it imports may change on disk", () => {
    expect(compiledCellKey("", scopeHere, 'import fs from "fs"; fs.existsSync("x")', V, here)).toBeUndefined();
    expect(compiledCellKey("", scopeHere, 'const m = require("./helper")', V, here)).toBeUndefined();
    expect(compiledCellKey('import { helper } from "./helper";\n', scopeHere, "helper()", V, here)).toBeUndefined();
  });
});

describe("a kept cell", () => {
  const compiled: CompiledCode = { kind: "code", js: "exports.tsLastExpr = exports.outliers(t);\n", declarations: `declare const o: aq.ColumnTable;\n${scopeHere}`, lastExpression: "tsLastExpr", topLevelAwait: false, files: [] };

  it("names the scope's modules by placeholders, and another kernel runs it with its own", () => {
    const kept = portableCompiled(compiled, here)!;
    expect(kept.declarations).not.toContain("/home/ana");
    expect(kept.js).toBe(compiled.js);
    expect(localCompiled(kept, there).declarations).toBe(`declare const o: aq.ColumnTable;\n${scopeThere}`);
    expect(localCompiled(kept, here)).toEqual(compiled);
  });

  it("is not kept when it brought local files with it", () => {
    expect(portableCompiled({ ...compiled, files: [{ path: "helper.js", js: "" }] }, here)).toBeUndefined();
  });
});

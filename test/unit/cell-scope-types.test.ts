/**
 * The quick converter (kernel/evaluation/converters.ts) compiles cells that use the cell scope without Node's
 * types, on the promise that the scope's declarations mean the same there: a type of the scope that named
 * something of Node's (a Buffer) would silently become `any` without them, and a cell could then compile there
 * that the full converter refuses. This holds the scope's whole declaration tree to that promise, given what the
 * quick converter declares in their place (kernel/evaluation/quickGlobals.ts); and the `console` it declares to
 * Node's: each method typed exactly as @types/node types it, so a cell that logs compiles the same on both.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { consoleInterface, QUICK_CONSOLE_METHODS, QUICK_GLOBALS, QUICK_GLOBALS_FILE } from "../../kernel/evaluation/quickGlobals";

const ROOT = path.resolve(__dirname, "..", "..");
type TypeScript = typeof import("@tslab/typescript-for-tslab");
const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [require.resolve("tslab")] })) as TypeScript;

/**
 * A program of one cell (`source`, at `cell`), compiled as tslab compiles a cell: with Node's types, or as the
 * quick converter does (none, and its own few).
 */
function cellProgram(cell: string, source: string, quick: boolean, options: object) {
  const all = { target: ts.ScriptTarget.ES2022, lib: ["lib.es2022.d.ts"], noEmit: true, ...options, ...(quick ? { types: [] } : {}) };
  const host = ts.createCompilerHost(all);
  const read = host.getSourceFile.bind(host);
  const virtual: Record<string, string> = { [cell]: source, [QUICK_GLOBALS_FILE]: QUICK_GLOBALS };
  host.getSourceFile = (name, version, ...rest) => (name in virtual ? ts.createSourceFile(name, virtual[name], version) : read(name, version, ...rest));
  return ts.createProgram(quick ? [cell, QUICK_GLOBALS_FILE] : [cell], all, host);
}

/** Every diagnostic in the cell scope's declaration files, compiled either way. */
function scopeDiagnostics(quick: boolean): string[] {
  const prelude = path.join(ROOT, "dist", "kernel", "evaluation", "prelude");
  const arquero = path.dirname(require.resolve("arquero/package.json"));
  const source = `import * as scope from ${JSON.stringify(prelude)};\nimport * as aq from ${JSON.stringify(arquero)};\nexport { scope, aq };\n`;
  const program = cellProgram(path.join(ROOT, "dist", "__scope_check__.ts"), source, quick, {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
  });
  const files = program.getSourceFiles().filter((f) => !program.isSourceFileDefaultLibrary(f) && f.fileName !== QUICK_GLOBALS_FILE && !/[\\/]@types[\\/]node[\\/]/.test(f.fileName));
  expect(files.some((f) => f.fileName.includes(`${path.sep}arquero${path.sep}`))).toBe(true);
  return files.flatMap((f) =>
    [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)].map(
      (d) => `${path.relative(ROOT, f.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`,
    ),
  );
}

describe("the cell scope's types", () => {
  it("mean the same to the quick converter: not one diagnostic more in its declaration files without Node's types", () => {
    const withNode = new Set(scopeDiagnostics(false));
    const without = scopeDiagnostics(true).filter((d) => !withNode.has(d));
    expect(without).toEqual([]);
  }, 60_000);
});

/** The diagnostics of one cell's source, compiled either way. */
function cellDiagnostics(source: string, quick: boolean): string[] {
  const cell = path.join(ROOT, "dist", "__console_check__.ts");
  const program = cellProgram(cell, `${source}\nexport {};\n`, quick, { module: ts.ModuleKind.ESNext, strict: true });
  const file = program.getSourceFile(cell)!;
  return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "));
}

/** A cell (compiled with Node's types) that type-checks only if each of `methods` has exactly the type of Node's console method of that name. */
function sameAsNodes(methods: Readonly<Record<string, string>>): string {
  return `${consoleInterface("QuickConsole", methods)}
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const same: { [K in keyof QuickConsole]: Same<QuickConsole[K], Console[K]> } = { ${Object.keys(methods).map((m) => `${m}: true`).join(", ")} };`;
}

describe("the quick converter's console", () => {
  it("has each of its methods with the very type Node's types give it (a changed signature is caught)", () => {
    expect(cellDiagnostics(sameAsNodes(QUICK_CONSOLE_METHODS), false)).toEqual([]);
    expect(cellDiagnostics(sameAsNodes({ ...QUICK_CONSOLE_METHODS, log: "(message: string): void" }), false).join("\n")).toMatch(/not assignable/);
  }, 60_000);

  it("keeps a cell that logs on the quick converter, and sends one that uses the rest of console to the full one", () => {
    const logs = `console.log("rows", 3); console.error(new Error("x")); console.table([{ a: 1 }], ["a"]); console.time(); console.timeEnd("t");`;
    expect(cellDiagnostics(logs, true)).toEqual([]);
    expect(cellDiagnostics(logs, false)).toEqual([]);
    expect(cellDiagnostics(`console.dir({ a: 1 }, { depth: 2 });`, true).join("\n")).toMatch(/Property 'dir' does not exist/);
    expect(cellDiagnostics(`console.dir({ a: 1 }, { depth: 2 });`, false)).toEqual([]);
    // Never looser than Node's: what Node's types refuse, the quick converter refuses too.
    expect(cellDiagnostics(`console.table([1], "a");`, true)).not.toEqual([]);
    expect(cellDiagnostics(`console.table([1], "a");`, false)).not.toEqual([]);
  }, 60_000);
});

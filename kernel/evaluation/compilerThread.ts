/**
 * The TypeScript compiler's own thread. tslab's converter (type-check a cell against the declarations of the
 * earlier ones, emit JavaScript) runs here, so the kernel's main thread stays free while it starts (a couple of
 * seconds: the standard library and Node's types are parsed) and while it compiles: a magic-only cell, an
 * interrupt or a comm message never waits for it. It starts compiling the moment the kernel starts.
 *
 * It knows nothing of running code: it turns source into JavaScript and answers completion and inspection,
 * always given the declarations the main thread holds (so a restart of this thread loses nothing).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parentPort } from "node:worker_threads";
import type { Diagnostic } from "tslab/dist/converter";
import { Converters } from "./converters";
import { loadTypeScriptCached } from "./typescriptCodeCache";
import type { Compiled, CompileDiagnostic, CompilerMessage, CompilerRequest, PreludeCompiled, QuickInfo } from "./compilerProtocol";

const started = performance.now();
const port = parentPort!;
const typescript = loadTypeScriptCached();
const tslab = require("tslab/dist/converter") as typeof import("tslab/dist/converter");
const { getCodeMetadata } = require("tslab/dist/metadata") as typeof import("tslab/dist/metadata");
const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [require.resolve("tslab")] })) as typeof import("@tslab/typescript-for-tslab");

/** The cell scope's import declarations, once asked for: the full converter reads their types while idle. */
let scopeDeclarations: string | undefined;
const converters = new Converters(tslab, ts, (full) => {
  if (scopeDeclarations !== undefined) full.convert(scopeDeclarations, "");
});
// The quick converter is built once the cell scope is answered (the kernel asks for it first thing): a replayed
// cell whose compiled form a recording keeps needs the scope, not the compiler, and so runs without waiting.
port.postMessage({ event: "ready", ms: performance.now() - started } satisfies CompilerMessage);

port.on("message", (req: CompilerRequest & { id: number }) => {
  let reply: CompilerMessage;
  try {
    reply = { id: req.id, ok: true, result: answer(req) };
  } catch (e) {
    reply = { id: req.id, ok: false, error: (e as Error).stack ?? String(e) };
  }
  port.postMessage(reply);
});

function answer(req: CompilerRequest): unknown {
  switch (req.op) {
    case "prelude": {
      const compiled = prelude(req.module, req.arquero);
      setImmediate(() => {
        converters.startQuick();
        // By now most of the compiler's functions have run (and been compiled): cache them for the next kernel.
        typescript.saveCache();
      });
      return compiled;
    }
    case "compile":
      return compile(req.declarations, req.source);
    case "warm":
      converters.full();
      return null;
    case "complete": {
      const c = converters.full().complete(req.declarations, req.source, req.cursor);
      return { start: c.start, end: c.end, matches: c.candidates };
    }
    case "inspect":
      return quickInfo(converters.full().inspect(req.declarations, req.source, req.cursor));
    case "isComplete":
      return tslab.isCompleteCode(req.source);
  }
}

function compile(declarations: string, source: string): Compiled {
  const meta = getCodeMetadata(source);
  if (meta.module) return { kind: "module", diagnostics: converters.full().addModule(meta.module, source, meta).map(diagnostic) };
  const quick = converters.quickFor(declarations, source)?.convert(declarations, source);
  const r = quick && !quick.diagnostics.length ? quick : converters.full().convert(declarations, source);
  if (r.diagnostics.length) return { kind: "diagnostics", diagnostics: r.diagnostics.map(diagnostic) };
  return {
    kind: "code",
    js: r.output ?? "",
    declarations: r.declOutput ?? "",
    lastExpression: r.lastExpressionVar,
    topLevelAwait: Boolean(r.hasToplevelAwait),
    files: (r.sideOutputs ?? []).map((o) => ({ path: o.path, js: o.data })),
  };
}

function diagnostic(d: Diagnostic): CompileDiagnostic {
  return { file: d.fileName, line: d.start.line + 1, column: d.start.character + 1, message: d.messageText };
}

/**
 * The cell scope: every export of the prelude module, and Arquero, imported from where this package is
 * installed. It needs no compiling: tslab carries import declarations into the next cell's declarations as they
 * are written, so these lines are the declarations, and their JavaScript is a plain CommonJS transpile (what
 * tslab's own output goes through). Their types are read with the first cell compiled against them.
 */
function prelude(module: string, arquero: string): PreludeCompiled {
  const { names, globals } = declaredNames(`${module}.d.ts`);
  const source =
    `import { ${names.join(", ")} } from ${JSON.stringify(module)};\n` +
    `import * as aq from ${JSON.stringify(arquero)};\n` +
    `import { op, desc, escape } from ${JSON.stringify(arquero)};\n`;
  const all = [...names, "aq", "op", "desc", "escape"];
  // Exported, as tslab exports a cell's names (an import nothing uses would be dropped).
  const js = ts.transpileModule(`${source}export { ${all.join(", ")} };\n`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, esModuleInterop: true, target: ts.ScriptTarget.ES2022, newLine: ts.NewLineKind.LineFeed },
  }).outputText;
  scopeDeclarations = source;
  converters.setScope([module, arquero]);
  return { compiled: { kind: "code", js, declarations: source, topLevelAwait: false, files: [] }, names: all, globals };
}

/**
 * The names a declaration file exports, and those it declares in `declare global` (read with the parser alone:
 * nothing is loaded or run).
 */
function declaredNames(dts: string): { names: string[]; globals: string[] } {
  const file = ts.createSourceFile(path.basename(dts), readFileSync(dts, "utf8"), ts.ScriptTarget.Latest);
  const names: string[] = [];
  const globals: string[] = [];
  const exported = (n: import("@tslab/typescript-for-tslab").Node) =>
    ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const st of file.statements) {
    if (ts.isExportDeclaration(st) && !st.isTypeOnly && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) if (!el.isTypeOnly) names.push(el.name.text);
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name && exported(st)) {
      names.push(st.name.text);
    } else if (ts.isVariableStatement(st) && exported(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
    } else if (ts.isModuleDeclaration(st) && st.name.getText(file) === "global" && st.body && ts.isModuleBlock(st.body)) {
      for (const g of st.body.statements) if ((ts.isFunctionDeclaration(g) || ts.isClassDeclaration(g)) && g.name) globals.push(g.name.text);
    }
  }
  return { names: [...new Set(names)], globals };
}

function quickInfo(info: import("@tslab/typescript-for-tslab").QuickInfo | undefined): QuickInfo | null {
  if (!info) return null;
  const text = (parts?: { text: string }[]) => (parts ?? []).map((p) => p.text).join("");
  const tags = (info.tags ?? []).map((t) => `@${t.name}${t.text ? ` ${text(t.text)}` : ""}`);
  return { signature: text(info.displayParts), documentation: [text(info.documentation), ...tags].filter(Boolean).join("\n") };
}

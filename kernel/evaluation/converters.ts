/**
 * The compiler thread's tslab converters: a quick one for the first cells, the full one for everything else.
 *
 * tslab type-checks a cell against the standard library and every declaration of Node (@types/node: 2 MB, about
 * half of a converter's start-up). A notebook's first cells rarely need Node's types, so a quick converter that
 * knows only the standard library (and the cell scope's types) starts in half the time and compiles them while
 * the full one is not built yet. The full one is built when the kernel asks (a `warm` request, sent once it has
 * run no cell for a second, and queued behind any cell), or at once when a request needs it, and the quick one
 * is then dropped.
 *
 * A cell is taken from the quick converter only when it cannot come out different from the full one's:
 *   - it and the declarations it is checked against import nothing but the cell scope (a package may reach into
 *     Node's types), and it is not a module cell (modules live in the full converter). The cell scope's
 *     declarations (prelude.ts's, Arquero's) name nothing of Node's, so they mean the same in both; a unit test
 *     (cell-scope-types) holds them to that;
 *   - it compiles there without a single diagnostic. A cell that uses Node (process, Buffer, require, timers,
 *     console beyond its common methods — quickGlobals.ts declares those as Node does…) gets "Cannot find name"
 *     there, and is compiled again on the full converter, which reports exactly what it always did.
 * tslab's converter.js is loaded once more for each, given a TypeScript whose watch host adds the quick one's
 * `types: []` option (no automatic @types; tslab has no option for it, and its TypeScript's exports cannot be
 * changed in place), and whose programs share the standard library's files: the full converter takes them from
 * the quick one parsed and bound (TypeScript binds a file once, whatever program holds it), which saves about a
 * fifth of its start-up — time a notebook's first TypeScript cell waits for when no slow magic came before it.
 */
import { readFileSync } from "node:fs";
import Module from "node:module";
import path from "node:path";
import vm from "node:vm";
import type { Converter } from "tslab/dist/converter";
import { importsAnything, importSource } from "./cellScopeImports";
import { QUICK_GLOBALS, QUICK_GLOBALS_FILE } from "./quickGlobals";

type ConverterModule = typeof import("tslab/dist/converter");
type TypeScript = typeof import("@tslab/typescript-for-tslab");

export class Converters {
  private quickOne: Converter | undefined;
  private fullOne: Converter | undefined;
  /** The standard library's files, parsed and bound by the quick converter's program, until the full one has them. */
  private readonly library = new Map<string, unknown>();
  /** The modules the cell scope imports (their import lines do not keep a cell from the quick converter). */
  private scopeModules = new Set<string>();
  private quickTried = false;

  constructor(
    private readonly tslab: ConverterModule,
    private readonly ts: TypeScript,
    /** Run once the full converter exists (the thread then reads the cell scope's types while still idle). */
    private readonly onFull: (full: Converter) => void = () => {},
  ) {}

  /** Builds the quick converter now, unless there is one (or the full one): the thread's start-up. */
  startQuick(): void {
    if (this.quickOne || this.fullOne || this.quickTried) return;
    this.quickTried = true;
    try {
      this.quickOne = converterModule(this.ts, { types: [] }, this.library, { [QUICK_GLOBALS_FILE]: QUICK_GLOBALS }).createConverter();
    } catch {
      // Only slower: the first cell waits for the full converter.
      this.quickOne = undefined;
    }
  }

  /** The full converter, built now if it is not yet. */
  full(): Converter {
    if (!this.fullOne) {
      this.fullOne = this.library.size ? converterModule(this.ts, {}, this.library).createConverter() : this.tslab.createConverter();
      this.quickOne?.close();
      this.quickOne = undefined;
      this.library.clear();
      this.onFull(this.fullOne);
    }
    return this.fullOne;
  }

  /** The modules the cell scope's import lines name. */
  setScope(modules: string[]): void {
    this.scopeModules = new Set(modules);
  }

  /**
   * The quick converter for this cell, when it may be used (the full one is not built yet, and nothing but the
   * cell scope is imported); the caller still checks that it compiled without a diagnostic.
   */
  quickFor(declarations: string, source: string): Converter | undefined {
    this.startQuick();
    if (this.fullOne || !this.quickOne) return undefined;
    const own = declarations
      .split("\n")
      .filter((line) => !this.scopeModules.has(importSource(line) ?? ""))
      .join("\n");
    return importsAnything(own) || importsAnything(source) ? undefined : this.quickOne;
  }
}

/**
 * tslab's converter module, loaded again with a TypeScript whose watch programs get `options` added to tslab's,
 * `extraRoots` (declaration files by path and text) added to their root files, and take the standard library's
 * files (lib.*.d.ts, beside TypeScript itself) from `library`, parsing each only when it is not there yet. Both
 * converters compile with the same target and module options, so a library file parses the same for either.
 */
function converterModule(ts: TypeScript, options: object, library: Map<string, unknown>, extraRoots: Record<string, string> = {}): ConverterModule {
  const file = require.resolve("tslab/dist/converter");
  const libDir = path.dirname(require.resolve("@tslab/typescript-for-tslab", { paths: [path.dirname(file)] })).replace(/\\/g, "/") + "/";
  type Host = ReturnType<TypeScript["createWatchCompilerHost"]>;
  type CompilerHost = { getSourceFile: (...a: unknown[]) => unknown; getSourceFileByPath?: (...a: unknown[]) => unknown };
  /** `get` parses a file: a library file comes from `library` unless TypeScript asks for a new one. */
  const extra = new Map<string, unknown>();
  const shared = (name: unknown, fresh: unknown, get: () => unknown) => {
    if (typeof name === "string" && name in extraRoots) {
      let f = extra.get(name);
      // (`version`: what a watch program's builder compares between programs.)
      if (f === undefined) extra.set(name, (f = Object.assign(ts.createSourceFile(name, extraRoots[name], ts.ScriptTarget.ES2022), { version: "1" })));
      return f;
    }
    if (typeof name !== "string" || !name.startsWith(libDir) || fresh === true) return get();
    let f = library.get(name);
    if (f === undefined) library.set(name, (f = get()));
    return f;
  };
  const host = ((roots: string[], opts: object, ...rest: unknown[]) => {
    const h = (ts.createWatchCompilerHost as (...a: unknown[]) => Host)(roots, { ...opts, ...options }, ...rest);
    const createProgram = h.createProgram as (...a: unknown[]) => unknown;
    const wrapped = new WeakSet<object>();
    h.createProgram = ((rootNames: unknown, o: unknown, compilerHost: CompilerHost | undefined, ...more: unknown[]) => {
      if (compilerHost && !wrapped.has(compilerHost)) {
        wrapped.add(compilerHost);
        const byName = compilerHost.getSourceFile.bind(compilerHost);
        compilerHost.getSourceFile = (name, version, onError, fresh) => shared(name, fresh, () => byName(name, version, onError, fresh));
        const byPath = compilerHost.getSourceFileByPath?.bind(compilerHost);
        if (byPath) compilerHost.getSourceFileByPath = (name, p, version, onError, fresh) => shared(name, fresh, () => byPath(name, p, version, onError, fresh));
      }
      const roots = Array.isArray(rootNames) ? [...rootNames, ...Object.keys(extraRoots).filter((r) => !rootNames.includes(r))] : rootNames;
      return createProgram(roots, o, compilerHost, ...more);
    }) as never;
    return h;
  }) as unknown as TypeScript["createWatchCompilerHost"];
  const typescript = new Proxy(ts, { get: (target, key) => (key === "createWatchCompilerHost" ? host : target[key as keyof TypeScript]) });
  const ownRequire = Module.createRequire(file);
  const requireHere = (id: string) => (id === "@tslab/typescript-for-tslab" ? typescript : ownRequire(id));
  const mod = { exports: {} as ConverterModule };
  const wrapped = vm.runInThisContext(Module.wrap(readFileSync(file, "utf8")), { filename: file }) as (...a: unknown[]) => void;
  wrapped.call(mod.exports, mod.exports, requireHere, mod, file, path.dirname(file));
  return mod.exports;
}

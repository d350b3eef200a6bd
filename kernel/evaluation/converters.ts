/**
 * The compiler thread's tslab converters: a quick one for the first cells, the full one for everything else.
 *
 * tslab type-checks a cell against the standard library and every declaration of Node (@types/node: 2 MB, about
 * half of a converter's start-up). A notebook's first cell rarely needs Node's types, so a quick converter that
 * knows only the standard library starts in half the time and compiles it while the full one is not built yet.
 * The full one is built when the kernel says no cell is waiting (a `warm` request, queued behind any cell), or at
 * once when a request needs it, and the quick one is then dropped.
 *
 * A cell is taken from the quick converter only when it cannot come out different from the full one's:
 *   - it and the declarations it is checked against import nothing (not the cell scope, whose declarations
 *     reach into Node's types, nor a package), and it is not a module cell (modules live in the full converter);
 *   - it compiles there without a single diagnostic. A cell that uses Node (console, process, Buffer, require,
 *     timers…) gets "Cannot find name" there, and is compiled again on the full converter, which reports
 *     exactly what it always did.
 * tslab's converter.js is loaded a second time for the quick one, given a TypeScript whose watch host adds the
 * `types: []` option (no automatic @types): tslab has no option for it, and its TypeScript's exports cannot be
 * changed in place.
 */
import { readFileSync } from "node:fs";
import Module from "node:module";
import path from "node:path";
import vm from "node:vm";
import type { Converter } from "tslab/dist/converter";

type ConverterModule = typeof import("tslab/dist/converter");
type TypeScript = typeof import("@tslab/typescript-for-tslab");

export class Converters {
  private quickOne: Converter | undefined;
  private fullOne: Converter | undefined;

  constructor(
    private readonly tslab: ConverterModule,
    private readonly ts: TypeScript,
    /** Run once the full converter exists (the thread then reads the cell scope's types while still idle). */
    private readonly onFull: (full: Converter) => void = () => {},
  ) {}

  /** Builds the quick converter now (the thread's start-up). */
  startQuick(): void {
    try {
      this.quickOne = withoutNodeTypes(this.ts).createConverter();
    } catch {
      // Only slower: the first cell waits for the full converter.
      this.quickOne = undefined;
    }
  }

  /** The full converter, built now if it is not yet. */
  full(): Converter {
    if (!this.fullOne) {
      this.fullOne = this.tslab.createConverter();
      this.quickOne?.close();
      this.quickOne = undefined;
      this.onFull(this.fullOne);
    }
    return this.fullOne;
  }

  /**
   * The quick converter for this cell, when it may be used (the full one is not built yet, and nothing is
   * imported); the caller still checks that it compiled without a diagnostic.
   */
  quickFor(declarations: string, source: string): Converter | undefined {
    if (this.fullOne || !this.quickOne) return undefined;
    return IMPORTS.test(declarations) || IMPORTS.test(source) ? undefined : this.quickOne;
  }
}

/** An import or require of anything: such a cell goes to the full converter. */
const IMPORTS = /\bimport\b|\brequire\s*\(/;

/** tslab's converter module, loaded again with a TypeScript that never adds @types packages to a program. */
function withoutNodeTypes(ts: TypeScript): ConverterModule {
  const file = require.resolve("tslab/dist/converter");
  const host: TypeScript["createWatchCompilerHost"] = ((roots: string[], options: object, ...rest: unknown[]) =>
    (ts.createWatchCompilerHost as (...a: unknown[]) => unknown)(roots, { ...options, types: [] }, ...rest)) as never;
  const typescript = new Proxy(ts, { get: (target, key) => (key === "createWatchCompilerHost" ? host : target[key as keyof TypeScript]) });
  const ownRequire = Module.createRequire(file);
  const requireHere = (id: string) => (id === "@tslab/typescript-for-tslab" ? typescript : ownRequire(id));
  const mod = { exports: {} as ConverterModule };
  const wrapped = vm.runInThisContext(Module.wrap(readFileSync(file, "utf8")), { filename: file }) as (...a: unknown[]) => void;
  wrapped.call(mod.exports, mod.exports, requireHere, mod, file, path.dirname(file));
  return mod.exports;
}

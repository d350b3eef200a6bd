/**
 * Runs compiled cells in the kernel's own context and keeps what they declare. The compiler (tslab's converter)
 * turns each top-level declaration into a property of one shared `exports` object, and every reference to an
 * earlier cell's name into a read of it: that object is the notebook's scope.
 *
 * `require` in a cell resolves from the notebook's folder (packages installed next to the notebook), and loads
 * the notebook's own .ts files from the JavaScript the compiler made of them.
 */
import Module from "node:module";
import path from "node:path";
import vm from "node:vm";
import type { CompiledFile } from "./compilerProtocol";

/** The global through which a compiled cell reaches the scope and `require` (not a name cells see). */
const SCOPE_GLOBAL = "__lumin_cell_scope__";

type Require = (id: string) => unknown;

export class CellRunner {
  /** The notebook's declarations: name → value. */
  readonly locals: Record<string, unknown> = {};
  private readonly files = new Map<string, string>();
  private readonly loaded = new Map<string, Module>();

  constructor(private readonly rootDir: string) {
    const locals = this.locals;
    // The compiler writes re-exported imports as getters; the scope keeps their values instead, so a later
    // cell may declare the same name again.
    const scope = new Proxy(locals, {
      defineProperty(_target, name, attrs) {
        if (name !== "__esModule") (locals as Record<string | symbol, unknown>)[name] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    const require = this.requireFrom(rootDir, Module.createRequire(path.join(rootDir, "notebook.js")));
    (globalThis as Record<string, unknown>)[SCOPE_GLOBAL] = { exports: scope, require };
  }

  /** The notebook's own .ts files a cell imports, as the compiler last made them. */
  addFiles(files: CompiledFile[]): void {
    for (const f of files) {
      this.files.set(f.path, f.js);
      this.loaded.delete(f.path);
    }
  }

  /**
   * Runs a compiled cell. A busy loop is stopped by SIGINT (breakOnSigint throws out of it); a cell with
   * top-level await returns its promise.
   */
  run(js: string, topLevelAwait: boolean): unknown {
    const wrapped = `(${topLevelAwait ? "async " : ""}function (exports, require) {\n${js}\n})(${SCOPE_GLOBAL}.exports, ${SCOPE_GLOBAL}.require)`;
    return vm.runInThisContext(wrapped, { filename: "cell.js", breakOnSigint: true, displayErrors: false });
  }

  /** The cell's last expression, taken out of the scope (it is not a declaration). */
  take(name: string): unknown {
    const value = this.locals[name];
    delete this.locals[name];
    return value;
  }

  private requireFrom(dir: string, base: NodeJS.Require): Require {
    return (id: string) => {
      const own = id.startsWith(".") || path.isAbsolute(id) ? this.ownFile(path.resolve(dir, id)) : undefined;
      return own ? own.exports : base(id);
    };
  }

  /** One of the notebook's .ts files, compiled: loaded once, until the compiler makes it again. */
  private ownFile(resolved: string): Module | undefined {
    const file = path.extname(resolved) ? resolved : `${resolved}.js`;
    const cached = this.loaded.get(file);
    if (cached) return cached;
    const js = this.files.get(file);
    if (js === undefined) return undefined;
    const mod = new Module(file, module);
    mod.filename = file;
    mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
    const require = this.requireFrom(path.dirname(file), Module.createRequire(file));
    this.loaded.set(file, mod);
    const fn = vm.runInThisContext(Module.wrap(js), { filename: file }) as (...a: unknown[]) => void;
    fn.call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
    mod.loaded = true;
    return mod;
  }
}

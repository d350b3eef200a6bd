/**
 * TypeScript cells: declarations persist across cells, each cell is type-checked against the earlier ones,
 * top-level await works, and packages next to the notebook can be imported.
 *
 * tslab's converter compiles, in a thread of its own (compilerThread.ts) that starts with the kernel, so the
 * first cell finds it warm and a magic-only cell never waits for it; the cell runs here, on the main thread
 * (cellRunner.ts), in the kernel's context. The declarations of earlier cells are kept here and sent with each
 * request. The cell scope (prelude.ts and Arquero) is compiled as soon as the compiler is up. Under `%record` a
 * cell's compiled form is kept in the recording, and under `%replay` taken from it (compiledCellStore.ts), so a
 * replayed notebook does not wait for the compiler to start.
 *
 * An interrupt always lands: before the cell runs (the compiler still starting or compiling) the cell is
 * abandoned and nothing in it runs; while it runs, a busy loop is broken by SIGINT and an awaited promise is
 * abandoned.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { kernelVersion } from "../kernelInfo";
import { CellRunner } from "./cellRunner";
import { CellScopeImports } from "./cellScopeImports";
import { kernelCompiler, type CompilerThread } from "./compiler";
import type { Compiled, CompileDiagnostic, PreludeCompiled, QuickInfo } from "./compilerProtocol";
import { compiledCellKey, localCompiled, portableCompiled, ScopePaths, type CompiledCellStore } from "./compiledCellStore";
import { kernelLog } from "./consoleCapture";
import { interruptedError } from "./interrupted";
import type { CellError, CellOutcome, Completion, TsEvaluator } from "./types";

/** The prelude module, without extension: the compiler reads its .d.ts, cells load its .js. */
const PRELUDE = path.join(__dirname, "prelude");
/** Arquero, as this package depends on it: the cell scope's `aq`. */
const ARQUERO = path.dirname(require.resolve("arquero/package.json"));
/** Names that are the kernel's plumbing, never offered to the user. */
const INTERNAL = /^__(lumin|tslab)/;
const STOPPED = Symbol("stopped");
/** No cell run for this long: the compiler builds its full converter (see warmWhenIdle). */
const WARM_WHEN_IDLE_MS = 1000;

export class TslabEvaluator implements TsEvaluator {
  private readonly runner: CellRunner;
  /** The declarations of every cell so far, which the next cell is checked against (with the scope it reaches). */
  private declarations = "";
  /** The cell scope's import declarations, once the prelude is compiled. */
  private scope: CellScopeImports | undefined;
  private prelude: Promise<void> | undefined;

  constructor(
    rootDir: string = process.cwd(),
    private readonly compiler: CompilerThread = kernelCompiler(),
    /** Compiled cells kept by a recording (%record keeps them, %replay runs them), when one is in use. */
    private readonly compiledCells: () => CompiledCellStore | undefined = () => undefined,
  ) {
    this.runner = new CellRunner(rootDir);
  }

  /**
   * Starts the compiler and the cell scope now, so the first TypeScript cell does not wait for them. The main
   * thread stays free: it only loads the prelude's modules once the compiler is up (while it compiles their
   * types), which takes a fraction of a second.
   */
  warm(): void {
    this.compiler.onReady(() => {
      setImmediate(() => {
        try {
          require(PRELUDE);
        } catch {
          // Reported when the prelude runs.
        }
      });
    });
    void this.loadPrelude();
  }

  /** Cells waiting for the prelude (then its types are read with the first of them, not on their own). */
  private waiting = 0;
  /** The prelude's JavaScript until it has run (it loads Arquero and the analysis and chart modules). */
  private preludeJs: string | undefined;

  /** Where the cell scope's modules are, and the placeholders kept cells name them by. */
  private readonly scopePaths = new ScopePaths({ prelude: PRELUDE, arquero: ARQUERO });

  private loadPrelude(): Promise<void> {
    return (this.prelude ??= this.compiler
      .request<PreludeCompiled>({ op: "prelude", module: PRELUDE, arquero: ARQUERO })
      .then(({ compiled, globals }) => {
        if (compiled.kind !== "code") throw new Error(compiled.diagnostics.map(formatDiagnostic).join("; "));
        this.scope = new CellScopeImports(compiled.declarations, globals);
        this.preludeJs = compiled.js;
        // Nobody is waiting: load the scope's modules, and let the compiler finish starting, while idle.
        if (this.waiting === 0) {
          this.warmWhenIdle();
          setImmediate(() => this.runPrelude());
        }
      })
      .catch((e) => {
        // Cells still run, without the scope; the log says why. A later cell tries again.
        kernelLog(`the cell prelude did not load: ${(e as Error).message}`);
        this.prelude = undefined;
      }));
  }

  private runPrelude(): void {
    const js = this.preludeJs;
    if (js === undefined) return;
    this.preludeJs = undefined;
    try {
      this.runner.run(js, false);
    } catch (e) {
      kernelLog(`the cell prelude did not load: ${(e as Error).message}`);
    }
  }

  /** A cell of any kind runs now: the compiler is not warmed meanwhile. */
  private busy = false;

  kernelBusy(busy: boolean): void {
    this.busy = busy;
    if (busy) clearTimeout(this.warmTimer);
    else this.warmWhenIdle();
  }

  async run(source: string, signal: AbortSignal): Promise<CellOutcome> {
    if (signal.aborted) return { status: "error", ...interruptedError("before") };
    const stopped = whenAborted(signal);
    this.waiting++;
    const ready = await Promise.race([this.loadPrelude(), stopped]).finally(() => this.waiting--);
    if (ready === STOPPED) return { status: "error", ...interruptedError("before") };
    const scope = this.scope?.reachableFrom(source, this.declarations) ?? "";
    const store = this.compiledCells();
    const key = store && compiledCellKey(this.declarations, scope, source, scopeVersions(), this.scopePaths);
    const kept = key ? store?.get(key) : undefined;
    const compiling = kept
      ? Promise.resolve<Compiled>(localCompiled(kept, this.scopePaths))
      : this.compiler.request<Compiled>({ op: "compile", declarations: this.declarations + scope, source });
    // The scope's modules load here while the compiler works on the cell.
    this.runPrelude();
    const compiled = await Promise.race([compiling, stopped]).catch(
      (e: Error): CellOutcome => ({ status: "error", ename: "CompilerError", evalue: e.message, traceback: [e.message] }),
    );
    if (compiled === STOPPED || signal.aborted) return { status: "error", ...interruptedError("before") };
    if ("status" in compiled) return compiled;
    if (compiled.kind !== "code") {
      if (!compiled.diagnostics.length) return { status: "ok", hasValue: false };
      const lines = compiled.diagnostics.map(formatDiagnostic);
      return { status: "error", ename: "TypeScriptError", evalue: lines[0], traceback: lines };
    }
    if (key && !kept) {
      const portable = portableCompiled(compiled, this.scopePaths);
      if (portable) store?.put(key, portable);
    }
    this.runner.addFiles(compiled.files);
    if (compiled.js) {
      try {
        const ran = this.runner.run(compiled.js, compiled.topLevelAwait);
        if (compiled.topLevelAwait && (await Promise.race([ran, stopped])) === STOPPED) return { status: "error", ...interruptedError("running") };
      } catch (e) {
        return { status: "error", ...describeThrown(e) };
      }
    }
    this.declarations = this.scope ? this.scope.own(compiled.declarations, scope) : compiled.declarations;
    if (!compiled.lastExpression) return { status: "ok", hasValue: false };
    const value = this.runner.take(compiled.lastExpression);
    // As in tslab: a cell whose last expression is undefined or null shows nothing.
    return value == null ? { status: "ok", hasValue: false } : { status: "ok", hasValue: true, value };
  }

  async complete(source: string, cursor: number): Promise<Completion> {
    await this.loadPrelude();
    const c = await this.compiler.request<Completion>({ op: "complete", declarations: this.allDeclarations(), source, cursor });
    return { ...c, matches: c.matches.filter((m) => !INTERNAL.test(m)) };
  }

  /**
   * What Shift+Tab shows: the signature and docs of the name at the cursor, or, inside a call's parentheses,
   * of the function being called.
   */
  async inspect(source: string, cursor: number): Promise<string | null> {
    await this.loadPrelude();
    const at = (pos: number) => this.compiler.request<QuickInfo | null>({ op: "inspect", declarations: this.allDeclarations(), source, cursor: pos });
    let info = await at(cursor);
    if (!info && cursor > 0 && /[\w$]/.test(source[cursor - 1])) info = await at(cursor - 1);
    const callee = info ? undefined : calleeAt(source, cursor);
    if (callee !== undefined) info = await at(callee);
    if (!info || /\b__(lumin|tslab)/.test(info.signature.split("(")[0])) return null;
    return [info.signature, info.documentation].filter(Boolean).join("\n\n");
  }

  /**
   * Lets the compiler build its full converter (Node's types, a second or so of its thread) once the kernel has
   * run no cell for a second: cells that come one after another (a notebook run top to bottom, a replay) are
   * compiled meanwhile by the quick converter, which takes any cell that needs nothing of Node's; they would wait
   * behind the build. Nor is it built while a cell runs: a probe's work on a node of this machine, or what a
   * cell times, would share the cores with it.
   */
  private warmWhenIdle(): void {
    if (this.warmed || this.busy) return;
    clearTimeout(this.warmTimer);
    this.warmTimer = setTimeout(() => {
      if (this.waiting === 0 && !this.busy) this.warmCompiler();
    }, WARM_WHEN_IDLE_MS);
    this.warmTimer.unref();
  }
  private warmTimer: NodeJS.Timeout | undefined;

  private warmCompiler(): void {
    if (this.warmed) return;
    this.warmed = true;
    void this.compiler.request({ op: "warm" }).catch(() => {
      this.warmed = false;
    });
  }
  private warmed = false;

  /** The notebook's declarations with the whole cell scope: what completion and inspection offer. */
  private allDeclarations(): string {
    return this.declarations + (this.scope?.all() ?? "");
  }

  async isComplete(source: string): Promise<{ completed: boolean; indent?: string }> {
    return this.compiler.request({ op: "isComplete", source });
  }
}

/** What a kept cell's compiled form depends on besides the notebook: the kernel's, tslab's and Arquero's versions. */
const scopeVersions = (() => {
  let versions: string | undefined;
  const version = (pkg: string) => (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), "utf8")) as { version: string }).version;
  return () => (versions ??= `elixirlumin ${kernelVersion()}; tslab ${version("tslab")}; arquero ${version("arquero")}`);
})();

function whenAborted(signal: AbortSignal): Promise<typeof STOPPED> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(STOPPED);
    else signal.addEventListener("abort", () => resolve(STOPPED), { once: true });
  });
}

function formatDiagnostic(d: CompileDiagnostic): string {
  return `${d.file ? `${d.file} ` : ""}${d.line}:${d.column} - ${d.message}`;
}

/**
 * Inside a call's parentheses, the position of the end of the name being called (`latencyTable(t, |)` → just
 * after `latencyTable`); undefined when the cursor is not inside a call. Strings are skipped roughly: enough for
 * a tooltip.
 */
export function calleeAt(source: string, cursor: number): number | undefined {
  let depth = 0;
  for (let i = cursor - 1; i >= 0; i--) {
    const c = source[i];
    if (c === ")" || c === "]" || c === "}") depth++;
    else if (c === "[" || c === "{") {
      // Unmatched: the cursor is inside an array or object argument; the call is further out.
      if (depth > 0) depth--;
    } else if (c === "(") {
      if (depth > 0) {
        depth--;
        continue;
      }
      let end = i;
      while (end > 0 && /\s/.test(source[end - 1])) end--;
      // Skip explicit type arguments: f<T>(…)
      if (source[end - 1] === ">") {
        let angle = 0;
        for (let j = end - 1; j >= 0; j--) {
          if (source[j] === ">") angle++;
          else if (source[j] === "<" && --angle === 0) {
            end = j;
            break;
          }
        }
      }
      return end > 0 && /[\w$]/.test(source[end - 1]) ? end - 1 : undefined;
    }
  }
  return undefined;
}

const INTERRUPTED = /^(Script execution (was )?interrupted|Interrupted asynchronously)/;

/** A thrown value as one error: name, message, and a traceback without the kernel's own frames. */
export function describeThrown(e: unknown): CellError {
  if (!(e instanceof Error) && !(typeof e === "object" && e !== null && "message" in e)) {
    return { ename: "Error", evalue: String(e), traceback: [`Uncaught ${String(e)}`] };
  }
  const err = e as Error & { interruptedWhen?: "before" | "running" };
  if (INTERRUPTED.test(err.message) || err.name === "Interrupted") return interruptedError(err.interruptedWhen ?? "running");
  if (err.name === "UsageError") return { ename: "UsageError", evalue: err.message, traceback: [err.message] };
  const frames = (err.stack ?? "").split("\n").slice(1);
  const userFrames = frames.filter((f) => !/node:vm|node_modules[\\/]tslab|[\\/]dist[\\/]kernel[\\/]|node:internal|^\s*at new Promise/.test(f));
  return { ename: err.name || "Error", evalue: err.message, traceback: [`${err.name}: ${err.message}`, ...userFrames] };
}

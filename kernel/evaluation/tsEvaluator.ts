/**
 * TypeScript cells, run by tslab's converter and executor used as a library: declarations persist across
 * cells, each cell is type-checked against the earlier ones, top-level await works, and packages next to the
 * notebook can be imported. The converter (the TypeScript compiler) is created on the first TypeScript cell,
 * so a kernel that only runs magics never pays for it.
 *
 * tslab's executor reports through a console interface: log() gets the cell's last expression, error() gets
 * compile diagnostics (a format string first) or what the cell threw. We turn those into one CellOutcome.
 */
import path from "node:path";
import type { Converter } from "tslab/dist/converter";
import type { Executor } from "tslab/dist/executor";
import type { CellError, CellOutcome, Completion, TsEvaluator } from "./types";

const PRELUDE = path.join(__dirname, "prelude");

export class TslabEvaluator implements TsEvaluator {
  private executor?: Executor;
  private value: { set: boolean; value?: unknown } = { set: false };
  private diagnostics: string[] = [];
  private thrown: unknown[] = [];

  constructor(private readonly rootDir: string = process.cwd()) {}

  /** Has the compiler been started? (A magic-only kernel never starts it.) */
  get started(): boolean {
    return this.executor !== undefined;
  }

  private ensure(): Executor {
    if (this.executor) return this.executor;
    const { createConverter } = require("tslab/dist/converter") as typeof import("tslab/dist/converter");
    const { createExecutor } = require("tslab/dist/executor") as typeof import("tslab/dist/executor");
    let node: Converter | undefined;
    let browser: Converter | undefined;
    const convs = {
      get node() {
        return (node ??= createConverter());
      },
      get browser() {
        return (browser ??= createConverter({ isBrowser: true }));
      },
      close: () => {
        node?.close();
        browser?.close();
      },
    };
    this.executor = createExecutor(this.rootDir, convs, {
      log: (value: unknown) => {
        this.value = { set: true, value };
      },
      error: (first: unknown, ...rest: unknown[]) => {
        if (typeof first === "string" && first.startsWith("%s%d:%d - %s")) {
          const [file, line, col, text] = rest as [string, number, number, string];
          this.diagnostics.push(`${file}${line}:${col} - ${text}`);
        } else this.thrown.push(first);
      },
    });
    return this.executor;
  }

  private preludeLoaded = false;
  private async loadPrelude(executor: Executor): Promise<void> {
    if (this.preludeLoaded) return;
    this.preludeLoaded = true;
    const names = Object.keys(require(PRELUDE)).filter((n) => n !== "__esModule");
    // The arquero this package depends on, found from the kernel's own files (never from the notebook's folder,
    // which may have none). Imported, not destructured: tslab keeps imports as they are in the declarations it
    // carries to the next cell, while a `const { op } = aq` would need op's type spelled out, and arquero's
    // types cannot be named from a folder that has no node_modules/arquero.
    const arquero = path.dirname(require.resolve("arquero/package.json"));
    const ok = await executor.execute(
      `import { ${names.join(", ")} } from ${JSON.stringify(PRELUDE)};\n` +
        `import * as aq from ${JSON.stringify(arquero)};\nimport { op, desc, escape } from ${JSON.stringify(arquero)};`,
    );
    if (!ok) process.stderr.write(`[elixirlumin] the cell prelude did not load: ${this.diagnostics.join("; ")}\n`);
    this.diagnostics = [];
    this.thrown = [];
  }

  async run(source: string, signal: AbortSignal): Promise<CellOutcome> {
    const executor = this.ensure();
    await this.loadPrelude(executor);
    this.value = { set: false };
    this.diagnostics = [];
    this.thrown = [];
    const onAbort = () => executor.interrupt();
    signal.addEventListener("abort", onAbort);
    let ok: boolean;
    try {
      ok = await executor.execute(source);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    if (ok) return this.value.set ? { status: "ok", hasValue: true, value: this.value.value } : { status: "ok", hasValue: false };
    return { status: "error", ...this.failure() };
  }

  private failure(): CellError {
    if (this.diagnostics.length) {
      return { ename: "TypeScriptError", evalue: this.diagnostics[0], traceback: this.diagnostics };
    }
    return describeThrown(this.thrown[0]);
  }

  async complete(source: string, cursor: number): Promise<Completion> {
    const info = this.ensure().complete(source, cursor);
    return { start: info.start, end: info.end, matches: info.candidates };
  }

  async inspect(source: string, cursor: number): Promise<string | null> {
    const info = this.ensure().inspect(source, cursor);
    if (!info) return null;
    const text = (parts?: { text: string }[]) => (parts ?? []).map((p) => p.text).join("");
    const docs = text(info.documentation);
    return [text(info.displayParts), docs].filter(Boolean).join("\n\n");
  }
}

const INTERRUPTED = /^(Script execution (was )?interrupted|Interrupted asynchronously)/;

/** A thrown value as one error: name, message, and a traceback without the kernel's own frames. */
export function describeThrown(e: unknown): CellError {
  if (!(e instanceof Error) && !(typeof e === "object" && e !== null && "message" in e)) {
    return { ename: "Error", evalue: String(e), traceback: [`Uncaught ${String(e)}`] };
  }
  const err = e as Error;
  if (INTERRUPTED.test(err.message)) return { ename: "Interrupted", evalue: "the cell was interrupted", traceback: ["Interrupted: the cell was interrupted"] };
  if (err.name === "UsageError") return { ename: "UsageError", evalue: err.message, traceback: [err.message] };
  const frames = (err.stack ?? "").split("\n").slice(1);
  const userFrames = frames.filter((f) => !/node_modules[\\/]tslab|[\\/]dist[\\/]kernel[\\/]|node:internal|^\s*at new Promise/.test(f));
  return { ename: err.name || "Error", evalue: err.message, traceback: [`${err.name}: ${err.message}`, ...userFrames] };
}

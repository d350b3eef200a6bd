/**
 * A TypeScript cell's compiled form is a pure function of the compiler, the cell, the declarations it is checked
 * against and the types of the cell scope. So where a store of compiled cells is at hand — a recording
 * (kernel/recording/compiledCells.ts) — a cell is looked up by a hash of exactly that, and compiled only when it
 * is not there: a `%replay` runs the cells the recorded run compiled without starting the compiler's type-check
 * (about a second of a kernel's start-up).
 *
 * Only cells that import nothing but the cell scope are kept (anything else may change on disk between runs). The
 * scope's modules are named in a cell's declarations by where this kernel is installed; a kept cell names them
 * by placeholders instead, so a recording made on one machine serves a replay on another with the same kernel.
 * A cell that differs in anything (edited since it was recorded, another kernel version) has another hash and is
 * compiled as usual; a store that cannot give a cell back only means it is compiled.
 */
import { createHash } from "node:crypto";
import { importsAnything } from "./cellScopeImports";
import type { Compiled } from "./compilerProtocol";

export type CompiledCode = Extract<Compiled, { kind: "code" }>;

export interface CompiledCellStore {
  get(key: string): CompiledCode | undefined;
  put(key: string, compiled: CompiledCode): void;
}

/**
 * The scope's modules as this kernel names them, and the placeholders a kept cell names them by. `modules`: the
 * module paths of the cell scope's import lines, by a stable name (`prelude`, `arquero`).
 */
export class ScopePaths {
  private readonly pairs: [string, string][];

  constructor(modules: Record<string, string>) {
    this.pairs = Object.entries(modules).map(([name, at]) => [JSON.stringify(at), JSON.stringify(`elixirlumin:scope/${name}`)]);
  }

  /** Declarations with the scope's modules named by placeholders. */
  portable(text: string): string {
    return this.pairs.reduce((t, [at, placeholder]) => t.split(at).join(placeholder), text);
  }

  /** Declarations with the placeholders named by where this kernel's scope is. */
  local(text: string): string {
    return this.pairs.reduce((t, [at, placeholder]) => t.split(placeholder).join(at), text);
  }
}

/**
 * The cell's address in a store (a SHA-256 of its inputs, the scope named portably), or undefined for a cell
 * that must be compiled every time. `own`: the notebook's declarations without the scope's import lines.
 */
export function compiledCellKey(own: string, scope: string, source: string, versions: string, paths: ScopePaths): string | undefined {
  // A cell that imports anything itself (or whose earlier cells did) is compiled every time.
  if (importsAnything(own) || importsAnything(source)) return undefined;
  return createHash("sha256")
    .update(versions)
    .update("\u0000")
    .update(own)
    .update("\u0000")
    .update(paths.portable(scope))
    .update("\u0000")
    .update(source)
    .digest("hex");
}

/** A compiled cell as a store keeps it: its declarations name the scope portably. */
export function portableCompiled(compiled: CompiledCode, paths: ScopePaths): CompiledCode | undefined {
  if (compiled.files.length) return undefined;
  return { ...compiled, declarations: paths.portable(compiled.declarations) };
}

/** A kept cell as this kernel runs it. */
export function localCompiled(kept: CompiledCode, paths: ScopePaths): CompiledCode {
  return { ...kept, declarations: paths.local(kept.declarations) };
}

/**
 * What the kernel's main thread and the compiler thread (compilerThread.ts) say to each other. Only source text
 * and compiled output cross: the compiler never runs a cell, the main thread never loads TypeScript.
 */

/** One compile diagnostic, positioned in the cell (line and column from 1). */
export interface CompileDiagnostic {
  /** A file the cell imports, relative to the notebook's folder; absent for the cell itself. */
  file?: string;
  line: number;
  column: number;
  message: string;
}

/** A local .ts file a cell imports, compiled to CommonJS for the main thread to load. */
export interface CompiledFile {
  path: string;
  js: string;
}

export type Compiled =
  | { kind: "diagnostics"; diagnostics: CompileDiagnostic[] }
  /** A `/** @module NAME *\/` cell: registered for later imports, nothing to run. */
  | { kind: "module"; diagnostics: CompileDiagnostic[] }
  | {
      kind: "code";
      /** CommonJS to run; empty when the cell only declares types. */
      js: string;
      /** The declarations the next cell is checked against. */
      declarations: string;
      /** The export that holds the cell's last expression, when it has one. */
      lastExpression?: string;
      topLevelAwait: boolean;
      files: CompiledFile[];
    };

export interface QuickInfo {
  /** The signature or type, as TypeScript prints it. */
  signature: string;
  /** The doc comment, with its tags (@param, @example…) as text. */
  documentation: string;
}

export type CompilerRequest =
  | { op: "prelude"; module: string; arquero: string }
  | { op: "compile"; declarations: string; source: string }
  | { op: "complete"; declarations: string; source: string; cursor: number }
  | { op: "inspect"; declarations: string; source: string; cursor: number }
  | { op: "isComplete"; source: string }
  /** No cell is waiting: build what the first cells were compiled without (see converters.ts). */
  | { op: "warm" };

export interface PreludeCompiled {
  compiled: Compiled;
  /** The names the prelude puts in every cell's scope. */
  names: string[];
  /** The names the prelude module declares globally (`__lumin_magic__`): a cell naming one needs its types. */
  globals: string[];
}

export type CompilerMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string }
  /** The compiler has loaded (its first converter is built next): the main thread may load what cells need. */
  | { event: "ready"; ms: number };

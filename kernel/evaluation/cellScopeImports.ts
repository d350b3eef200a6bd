/**
 * The import declarations that put the cell scope (prelude.ts's exports and Arquero) in every cell, given to the
 * compiler only for the names a cell can reach: those written in the cell or in the declarations of earlier
 * cells it is checked against. Their types are 280 KB of declarations (Arquero's among them); a cell that uses
 * none of them (`[1, 2, 3].map(…)`) is not made to read them, and is the same cell either way. The scope's
 * JavaScript is unaffected: every name is there when a cell runs.
 *
 * tslab carries import declarations into the next cell's declarations, dropping a name a cell declares again
 * (`const show = 5`); such a name is then the cell's own and is never imported again.
 */

interface ScopeImport {
  /** `import * as NAME from …` when set, else `import { names } from …`. */
  namespace?: string;
  names: string[];
  from: string;
}

export class CellScopeImports {
  private readonly imports: ScopeImport[];
  /** Scope names a cell declared again (they are the notebook's own now). */
  private readonly shadowed = new Set<string>();

  /**
   * `declarations`: the prelude's import lines, as the compiler thread wrote them; `globals`: the names its first
   * module declares in `declare global` (a cell that names one is given a bare `import "…";` of that module).
   */
  constructor(
    declarations: string,
    private readonly globals: string[] = [],
  ) {
    this.imports = parseImports(declarations);
  }

  /** The import lines for the scope names that `texts` (a cell, earlier declarations) mention. */
  reachableFrom(...texts: string[]): string {
    const text = texts.join("\n");
    const lines = this.lines((name) => mentions(text, name));
    const first = this.imports[0];
    const global = first && !lines.includes(JSON.stringify(first.from)) && this.globals.some((g) => mentions(text, g));
    return global ? `${lines}import ${JSON.stringify(first.from)};\n` : lines;
  }

  /** Every import line (completion and inspection offer the whole scope). */
  all(): string {
    return this.lines(() => true);
  }

  /**
   * The notebook's own declarations out of what the compiler returned (the scope's import lines taken out),
   * noting the scope names that were given and came back dropped: the cell declared them again.
   */
  own(declarations: string, given: string): string {
    const back = new Set(parseImports(declarations).flatMap((i) => i.names));
    for (const name of parseImports(given).flatMap((i) => i.names)) if (!back.has(name)) this.shadowed.add(name);
    const sources = new Set(this.imports.map((i) => i.from));
    return declarations
      .split("\n")
      .filter((line) => !sources.has(importSource(line) ?? ""))
      .join("\n");
  }

  private lines(wanted: (name: string) => boolean): string {
    const out: string[] = [];
    for (const i of this.imports) {
      const names = i.names.filter((n) => !this.shadowed.has(n) && wanted(n));
      if (!names.length) continue;
      out.push(i.namespace ? `import * as ${i.namespace} from ${JSON.stringify(i.from)};` : `import { ${names.join(", ")} } from ${JSON.stringify(i.from)};`);
    }
    return out.length ? `${out.join("\n")}\n` : "";
  }
}

const IMPORT = /^import\s+(?:\*\s+as\s+([\w$]+)|\{([^}]*)\})\s+from\s+("(?:[^"\\]|\\.)*");?\s*$/;
/** `import "…";`: a module read for its global declarations only. */
const BARE_IMPORT = /^import\s+("(?:[^"\\]|\\.)*");?\s*$/;

function parseImports(declarations: string): ScopeImport[] {
  const out: ScopeImport[] = [];
  for (const line of declarations.split("\n")) {
    const m = IMPORT.exec(line.trim());
    if (!m) continue;
    const from = JSON.parse(m[3]) as string;
    if (m[1]) out.push({ namespace: m[1], names: [m[1]], from });
    else out.push({ names: m[2].split(",").map((n) => n.trim()).filter(Boolean), from });
  }
  return out;
}

/**
 * Whether `text` (a cell, or declarations) imports or requires anything: such a cell is not taken by the quick
 * converter (converters.ts), nor kept compiled by a recording (compiledCellStore.ts).
 */
export function importsAnything(text: string): boolean {
  return /\bimport\b|\brequire\s*\(/.test(text);
}

/** The module an import line of the scope's forms (`* as`, `{ … }`, bare) names. */
export function importSource(line: string): string | undefined {
  const m = IMPORT.exec(line.trim());
  if (m) return JSON.parse(m[3]) as string;
  const bare = BARE_IMPORT.exec(line.trim());
  return bare ? (JSON.parse(bare[1]) as string) : undefined;
}

/** Whether `text` has `name` as a whole word (a string or comment that names it only costs reading its types). */
function mentions(text: string, name: string): boolean {
  const escaped = name.replace(/[$]/g, "\\$");
  return new RegExp(`(?<![\\w$])${escaped}(?![\\w$])`).test(text);
}

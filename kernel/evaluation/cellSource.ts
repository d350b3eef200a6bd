/**
 * Reading a cell's source: which lines are magics, and rewriting magics inside TypeScript into calls of
 * `__lumin_magic__`. Lines inside block comments and template literals are left alone, so a `%` in a string
 * spanning lines is never taken for a magic.
 */
export const CELL_MAGIC = /^\s*%%([A-Za-z_][\w-]*)(\?{1,2})?(?:[ \t]+(.*))?$/;
export const LINE_MAGIC = /^(\s*)%([A-Za-z_][\w-]*)(\?{1,2})?(?:[ \t]+(.*))?$/;
/** `const x = %name args`, `let x = …`, `x = …`, `x.y = …`. */
const ASSIGN_MAGIC = /^(\s*(?:export\s+)?(?:(?:const|let|var)\s+[A-Za-z_$][\w$]*(?:\s*:\s*[^=]+)?|[A-Za-z_$][\w$.]*)\s*=)\s*%([A-Za-z_][\w-]*)(?:[ \t]+(.*))?$/;

export type LineKind = "blank" | "comment" | "magic" | "code";

export interface MagicLine {
  name: string;
  help: boolean;
  argText: string;
}

export function parseMagicLine(line: string): MagicLine | undefined {
  const m = LINE_MAGIC.exec(line);
  return m ? { name: m[2], help: Boolean(m[3]), argText: (m[4] ?? "").trim() } : undefined;
}

/** For each line: is it at the top level of the code (not inside a block comment or template literal)? */
export function topLevelLines(source: string): boolean[] {
  const result: boolean[] = [];
  let inBlock = false;
  let inTemplate = false;
  for (const line of source.split("\n")) {
    result.push(!inBlock && !inTemplate);
    for (let i = 0; i < line.length; i++) {
      const two = line.slice(i, i + 2);
      if (inBlock) {
        if (two === "*/") [inBlock, i] = [false, i + 1];
      } else if (inTemplate) {
        if (line[i] === "\\") i++;
        else if (line[i] === "`") inTemplate = false;
      } else if (two === "//") break;
      else if (two === "/*") [inBlock, i] = [true, i + 1];
      else if (line[i] === "`") inTemplate = true;
      else if (line[i] === '"' || line[i] === "'") {
        const q = line[i];
        for (i++; i < line.length && line[i] !== q; i++) if (line[i] === "\\") i++;
      }
    }
  }
  return result;
}

export function classifyLines(source: string): LineKind[] {
  const top = topLevelLines(source);
  return source.split("\n").map((line, i) => {
    if (!top[i]) return "code";
    if (/^\s*$/.test(line)) return "blank";
    if (/^\s*\/\//.test(line)) return "comment";
    return LINE_MAGIC.test(line) ? "magic" : "code";
  });
}

const call = (name: string, argText: string, statement: boolean) =>
  `await __lumin_magic__(${JSON.stringify(name)}, ${JSON.stringify(argText.trim())}${statement ? ", true" : ""})`;

/** TypeScript with magic statements and `x = %magic` assignments turned into awaited calls. */
export function rewriteMagics(source: string): string {
  const top = topLevelLines(source);
  return source
    .split("\n")
    .map((line, i) => {
      if (!top[i]) return line;
      const assign = ASSIGN_MAGIC.exec(line);
      if (assign) return `${assign[1]} ${call(assign[2], assign[3] ?? "", false)};`;
      const m = LINE_MAGIC.exec(line);
      if (m) return `${m[1]}${call(m[2], m[4] ?? "", true)};`;
      return line;
    })
    .join("\n");
}

/** `x = ` before a magic on an assignment line (the start of ASSIGN_MAGIC, up to the `%`). */
const ASSIGN_PREFIX = /^\s*(?:export\s+)?(?:(?:const|let|var)\s+[A-Za-z_$][\w$]*(?:\s*:\s*[^=]+)?|[A-Za-z_$][\w$.]*)\s*=\s*(?=%[A-Za-z_])/;

/**
 * Where the magic starts in a line as written so far (`%name …`, `%%name …`, or `const x = %name …`), or -1
 * when the line holds no magic. Completion and inspection use it to treat the rest as the magic's arguments.
 */
export function magicStart(line: string): number {
  const plain = /^\s*(?=%)/.exec(line);
  if (plain) return plain[0].length;
  const assign = ASSIGN_PREFIX.exec(line);
  return assign ? assign[0].length : -1;
}

/**
 * The source as the TypeScript language service should see it: each magic blanked out with spaces (a bound
 * one becomes `0`), every offset unchanged, so completion and inspection positions still match the cell.
 */
export function maskMagics(source: string): string {
  const top = topLevelLines(source);
  return source
    .split("\n")
    .map((line, i) => {
      if (!top[i]) return line;
      const at = magicStart(line);
      if (at < 0) return line;
      const bound = !/^\s*%/.test(line);
      return line.slice(0, at) + (bound ? "0" : " ") + " ".repeat(Math.max(0, line.length - at - 1));
    })
    .join("\n");
}

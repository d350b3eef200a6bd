/**
 * The files a recording keeps besides its evidence (chart pictures, compiled cells), one sub-folder each, named
 * by a hash: made for `%record`, read for `%replay`; a folder a recording does not have is simply empty.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";

/** The files of `dir/sub` whose names match `name`, by its first group (the hash), with the whole match. */
export function keptFiles(dir: string, sub: string, mode: "record" | "replay", name: RegExp): Map<string, { file: string; match: RegExpExecArray }> {
  const folder = path.join(dir, sub);
  if (mode === "record") mkdirSync(folder, { recursive: true });
  const files = new Map<string, { file: string; match: RegExpExecArray }>();
  if (!existsSync(folder)) return files;
  for (const f of readdirSync(folder)) {
    const match = name.exec(f);
    if (match) files.set(match[1], { file: path.join(folder, f), match });
  }
  return files;
}

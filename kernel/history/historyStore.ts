/**
 * Execution history, kept across kernel restarts: one JSON line per executed cell,
 * `{"session": n, "line": k, "input": "...", "output": "..."?}`, in ELIXIRLUMIN_HISTORY_FILE or
 * ~/.local/share/elixirlumin/history.jsonl. Each kernel process is a new session, numbered one past the
 * highest in the file. JSON lines rather than SQLite (as IPython uses): no native dependency, and appends are
 * atomic enough for one kernel per file write.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  output?: string;
}

export function historyFile(): string {
  return process.env.ELIXIRLUMIN_HISTORY_FILE ?? path.join(os.homedir(), ".local", "share", "elixirlumin", "history.jsonl");
}

export class HistoryStore {
  private readonly entries: HistoryEntry[];
  readonly session: number;

  constructor(private readonly file: string = historyFile()) {
    this.entries = existsSync(file)
      ? readFileSync(file, "utf8").split("\n").filter(Boolean).flatMap((l) => {
          try {
            return [JSON.parse(l) as HistoryEntry];
          } catch {
            return [];
          }
        })
      : [];
    this.session = this.entries.reduce((m, e) => Math.max(m, e.session), 0) + 1;
  }

  append(line: number, input: string, output?: string): void {
    const entry: HistoryEntry = { session: this.session, line, input, ...(output !== undefined ? { output } : {}) };
    this.entries.push(entry);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
    } catch {
      // History is a convenience: a read-only home must not break execution.
    }
  }

  /** Attach the text of a cell's result to its entry (for history requests with output=true). */
  setOutput(line: number, output: string): void {
    const e = this.entries.findLast((x) => x.session === this.session && x.line === line);
    if (e) e.output = output;
  }

  tail(n: number): HistoryEntry[] {
    return n > 0 ? this.entries.slice(-n) : [];
  }

  /** `session` 0 is this one; negative counts back from it (-1 = the previous session). */
  range(session: number, start: number, stop?: number): HistoryEntry[] {
    const s = session <= 0 ? this.session + session : session;
    return this.entries.filter((e) => e.session === s && e.line >= start && (stop === undefined || stop <= 0 || e.line < stop));
  }

  /** Glob search (`*`, `?`) over inputs, newest last; `unique` keeps the last of equal inputs. */
  search(pattern: string, n?: number, unique = false): HistoryEntry[] {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, ".")}$`);
    let found = this.entries.filter((e) => re.test(e.input));
    if (unique) {
      const seen = new Set<string>();
      found = found.reverse().filter((e) => !seen.has(e.input) && seen.add(e.input)).reverse();
    }
    return n !== undefined && n > 0 ? found.slice(-n) : found;
  }
}

/**
 * Execution history, kept across kernel restarts: one JSON line per executed cell,
 * `{"session": n, "line": k, "input": "...", "output": "..."?}`, in ELIXIRLUMIN_HISTORY_FILE or
 * ~/.local/share/elixirlumin/history.jsonl. Each kernel process is a new session, numbered one past the
 * highest in the file. JSON lines rather than SQLite (as IPython uses): no native dependency, and appends are
 * atomic enough for one kernel per file write.
 *
 * The file grows with every cell ever run (megabytes after a while); a kernel reads only its end at start-up,
 * for the session number, and the whole of it only when a frontend asks for history.
 */
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from "node:fs";
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
  /** Every entry of the file, once a history request has read it; this session's appends join it. */
  private loaded: HistoryEntry[] | undefined;
  /** This session's entries (their outputs live only here). */
  private readonly own: HistoryEntry[] = [];
  readonly session: number;

  constructor(private readonly file: string = historyFile()) {
    this.session = lastSession(file) + 1;
  }

  private get entries(): HistoryEntry[] {
    if (!this.loaded) {
      const earlier = existsSync(this.file) ? parseLines(readFileSync(this.file, "utf8")).filter((e) => e.session !== this.session) : [];
      this.loaded = [...earlier, ...this.own];
    }
    return this.loaded;
  }

  append(line: number, input: string, output?: string): void {
    const entry: HistoryEntry = { session: this.session, line, input, ...(output !== undefined ? { output } : {}) };
    this.own.push(entry);
    this.loaded?.push(entry);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
    } catch {
      // History is a convenience: a read-only home must not break execution.
    }
  }

  /** Attach the text of a cell's result to its entry (for history requests with output=true). */
  setOutput(line: number, output: string): void {
    const e = this.own.findLast((x) => x.line === line);
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

/** How much of the file's end is read for the last session number (a session's lines are appended together). */
const TAIL_BYTES = 64 * 1024;

/** The highest session number in the file's last lines; 0 for no file. */
function lastSession(file: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    let text = buf.toString("utf8");
    // A read from the middle of the file starts inside a line.
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    return parseLines(text).reduce((m, e) => Math.max(m, e.session), 0);
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function parseLines(text: string): HistoryEntry[] {
  return text
    .split("\n")
    .filter(Boolean)
    .flatMap((l) => {
      try {
        const e = JSON.parse(l) as HistoryEntry;
        return typeof e.session === "number" ? [e] : [];
      } catch {
        return [];
      }
    });
}

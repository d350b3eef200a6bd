import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HistoryStore } from "../../kernel/history/historyStore";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A history file of `sessions` earlier sessions, `lines` cells each, every input `size` characters long. */
function historyOf(sessions: number, lines: number, size: number): string {
  dir = mkdtempSync(path.join(os.tmpdir(), "lumin-history-"));
  const file = path.join(dir, "history.jsonl");
  const out: string[] = [];
  for (let s = 1; s <= sessions; s++) for (let l = 1; l <= lines; l++) out.push(JSON.stringify({ session: s, line: l, input: `// s${s} l${l} ${"x".repeat(size)}` }));
  writeFileSync(file, `${out.join("\n")}\n`);
  return file;
}

describe("the execution history", () => {
  it("numbers a new kernel's session one past the last in a long file, and still answers from the whole file", () => {
    const file = historyOf(400, 50, 200); // ~5 MB: a year of notebooks
    const h = new HistoryStore(file);
    expect(h.session).toBe(401);
    h.append(1, "const a = 1");
    h.append(2, "a + 1");
    h.setOutput(2, "2");
    expect(h.tail(3).map((e) => e.input)).toEqual([expect.stringContaining("s400 l50"), "const a = 1", "a + 1"]);
    expect(h.range(0, 1).map((e) => [e.input, e.output])).toEqual([["const a = 1", undefined], ["a + 1", "2"]]);
    expect(h.range(-1, 1)).toHaveLength(50);
    expect(h.range(3, 7, 9).map((e) => e.line)).toEqual([7, 8]);
    expect(h.search("*s1 l1 *")).toHaveLength(1);
    // Appends after the file was read are seen too.
    h.append(3, "a + 2");
    expect(h.tail(1)[0]).toMatchObject({ session: 401, line: 3, input: "a + 2" });
    expect(new HistoryStore(file).session).toBe(402);
  });

  it("starts at session 1 without a file, and skips lines that are not history", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "lumin-history-"));
    expect(new HistoryStore(path.join(dir, "none.jsonl")).session).toBe(1);
    const file = path.join(dir, "h.jsonl");
    writeFileSync(file, '{"session": 4, "line": 1, "input": "x"}\nnot json\n{"other": true}\n');
    const h = new HistoryStore(file);
    expect(h.session).toBe(5);
    expect(h.tail(10).map((e) => e.input)).toEqual(["x"]);
  });
});

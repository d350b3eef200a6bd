/**
 * The contract across languages (kernel/tables/schemas.ts) holds: the agent's Erlang header and the README's
 * tables are what it generates, the header compiles, and the agent's sources name only columns and reasons
 * the kernel knows. Regenerate with `node scripts/contract.js` after a build.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { erlangHeader, HEADER_FILE, readmeTables } from "../../kernel/tables/contractText";
import { columnNames, PROBE_STATES, SCHEMAS, WHY_ENDED, type TableKind } from "../../kernel/tables/schemas";

const ROOT = path.join(__dirname, "..", "..");
const AGENT_SRC = path.join(ROOT, "elixir_agent", "src");
const agentSources = () =>
  readdirSync(AGENT_SRC).filter((f) => f.endsWith(".erl")).map((f) => ({ file: f, text: readFileSync(path.join(AGENT_SRC, f), "utf8") }));

describe("the contract across languages", () => {
  it("the agent's header is generated from the kernel's schemas (regenerate: node scripts/contract.js)", () => {
    expect(readFileSync(path.join(ROOT, HEADER_FILE), "utf8")).toBe(erlangHeader());
  });

  it("the README's tables are generated from the kernel's schemas (regenerate: node scripts/contract.js)", () => {
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain(readmeTables());
  });

  it("the header compiles in a module that uses every macro, warnings as errors", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-contract-"));
    try {
      const uses = Object.keys(SCHEMAS).map((k) => `?LUMIN_COLUMNS_${k.toUpperCase()}, ?LUMIN_SCHEMA_VERSION_${k.toUpperCase()}`);
      writeFileSync(
        path.join(dir, "contract_check.erl"),
        `-module(contract_check).\n-export([all/0, is_state/1, is_why/1]).\n-include("${path.join(ROOT, HEADER_FILE)}").\n` +
          `all() -> [?LUMIN_PROBE_KINDS, ?LUMIN_SNAPSHOT_KINDS, ?LUMIN_PROBE_STATES, ?LUMIN_WHY_ENDED, ${uses.join(", ")}].\n` +
          `is_state(X) when ?LUMIN_IS_PROBE_STATE(X) -> true; is_state(_) -> false.\n` +
          `is_why(X) when ?LUMIN_IS_WHY_ENDED(X) -> true; is_why(_) -> false.\n`,
      );
      execFileSync("erlc", ["-Werror", "-o", dir, path.join(dir, "contract_check.erl")], { stdio: "pipe" });
      const out = execFileSync("erl", ["-noshell", "-pa", dir, "-eval", "io:format(\"~w~n\", [{contract_check:is_state(ending), contract_check:is_why(node_down), contract_check:is_why(bogus)}]), halt()."]).toString();
      expect(out.trim()).toBe("{true,true,false}");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every reason the agent ends a probe with is one the kernel knows", () => {
    const known = new Set<string>(WHY_ENDED.map((w) => w.name));
    const used = new Set<string>();
    for (const { text } of agentSources()) {
      for (const m of text.matchAll(/\bend_probe\((?:[A-Z]\w*, )?([a-z][a-z_]*),/g)) used.add(m[1]);
      for (const m of text.matchAll(/\b(?:stop_all|end_busiest|overload)\(\w+, ([a-z][a-z_]*),/g)) used.add(m[1]);
      // `{Why, Detail}` pairs: `{rate, io_lib:format(…)}`, `{Name, time, io_lib:format(…)}` (but not `{error, …}`).
      for (const m of text.matchAll(/\{(?:Name, )?([a-z][a-z_]*), (?:io_lib:format|<<")/g)) if (!["error", "syntax"].includes(m[1])) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((u) => !known.has(u))).toEqual([]);
  });

  it("every state the agent reports is one the kernel knows", () => {
    const known = new Set<string>(PROBE_STATES.map((s) => s.name));
    const used = new Set<string>();
    for (const { text } of agentSources()) for (const m of text.matchAll(/\bstate\s*(?::=|=>)\s*([a-z][a-z_]*)\b/g)) used.add(m[1]);
    // `draining` is the call collector's own word for `ending`; it is reported as `ending`.
    used.delete("draining");
    for (const keyword of ["case", "if", "fun", "begin", "try", "receive"]) used.delete(keyword);
    expect([...used].filter((u) => !known.has(u))).toEqual([]);
  });

  it("every column list written out in the agent is the kernel's, in order", () => {
    let checked = 0;
    for (const { file, text } of agentSources()) {
      const lists = [
        ...text.matchAll(/\bcolumns\((\w+)\) ->\s*(\[[\s\S]*?\])[;.]/g),
        ...text.matchAll(/\bbatch\((\w+), (\[[\s\S]*?\]), Rows\)/g),
      ];
      for (const [, kind, list] of lists) {
        if (!(kind in SCHEMAS)) continue;
        const names = [...list.matchAll(/(?<!const, )\{(\w+), (?=f64|i32|dict|terms|cut_terms|\{const)/g)].map((m) => m[1]);
        expect(names, `${file}: ${kind}`).toEqual(columnNames(kind as TableKind));
        checked++;
      }
      for (const m of text.matchAll(/Cols = #\{([\s\S]*?)\},\s*\{lumin_columns:batch\((\w+),/g)) {
        const keys = [...m[1].matchAll(/(?:^|,)\s*(?:#\{)?(\w+) =>/gm)].map((k) => k[1]);
        expect(new Set(keys), `${file}: ${m[2]}`).toEqual(new Set(columnNames(m[2] as TableKind)));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});

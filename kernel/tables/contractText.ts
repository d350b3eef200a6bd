/**
 * The contract of kernel/tables/schemas.ts as the other languages read it: the agent's Erlang header and the
 * README's table reference. `node scripts/contract.js` writes both; test/unit/contract.test.ts checks that
 * the files in the tree are what these functions give.
 */
import { PROBE_KINDS, PROBE_STATES, SCHEMAS, SNAPSHOT_KINDS, WHY_ENDED, type ContractValue } from "./schemas";

export const HEADER_FILE = "elixir_agent/src/lumin_contract.hrl";
export const README_START = "<!-- tables: generated from kernel/tables/schemas.ts by `node scripts/contract.js`; edit there, not here -->";
export const README_END = "<!-- end of the generated tables -->";

const macro = (name: string) => name.toUpperCase();

function atomList(names: readonly string[], indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const n of names) {
    const item = `${n}, `;
    if (line && indent + line.length + item.length > 110) {
      lines.push(line.trimEnd());
      line = "";
    }
    line += item;
  }
  lines.push(line.replace(/, $/, ""));
  return `[${lines.join(`\n${" ".repeat(indent)}`)}]`;
}

function guard(name: string, values: readonly string[]): string {
  const tests = values.map((v) => `X =:= ${v}`);
  const lines: string[] = [];
  for (let i = 0; i < tests.length; i += 4) lines.push(tests.slice(i, i + 4).join(" orelse "));
  return `-define(${name}(X),\n        (${lines.join(" orelse\n         ")})).`;
}

/** elixir_agent/src/lumin_contract.hrl: macros only (a header's unused functions or types would be warnings). */
export function erlangHeader(): string {
  const out = [
    "%% Generated from kernel/tables/schemas.ts by `node scripts/contract.js`: edit there, not here.",
    "%% The contract between the agent and the kernel: each table's columns (in the order a batch names them),",
    "%% the states of a probe and the reasons a probe ends. test/unit/contract.test.ts fails when this file or the",
    "%% agent's sources disagree with the kernel.",
    "",
    "-ifndef(LUMIN_CONTRACT_HRL).",
    "-define(LUMIN_CONTRACT_HRL, true).",
    "",
    "%% Probe kinds and snapshot kinds.",
    `-define(LUMIN_PROBE_KINDS, ${atomList(PROBE_KINDS, 26)}).`,
    `-define(LUMIN_SNAPSHOT_KINDS, ${atomList(SNAPSHOT_KINDS, 29)}).`,
    "",
    "%% The states of a probe, in order.",
    ...PROBE_STATES.map((s: ContractValue) => `%%   ${s.name}: ${s.doc}`),
    `-define(LUMIN_PROBE_STATES, ${atomList(PROBE_STATES.map((s) => s.name), 27)}).`,
    guard("LUMIN_IS_PROBE_STATE", PROBE_STATES.map((s) => s.name)),
    "",
    "%% Why a probe ended (its status's why_ended).",
    ...WHY_ENDED.map((w: ContractValue) => `%%   ${w.name}: ${w.doc.replace(/\x60/g, "")}`),
    `-define(LUMIN_WHY_ENDED, ${atomList(WHY_ENDED.map((w) => w.name), 24)}).`,
    guard("LUMIN_IS_WHY_ENDED", WHY_ENDED.map((w) => w.name)),
    "",
    "%% Each table's columns, in order, and its schema version.",
  ];
  for (const schema of Object.values(SCHEMAS)) {
    const name = `LUMIN_COLUMNS_${macro(schema.kind)}`;
    out.push(`-define(${name}, ${atomList(schema.columns.map((c) => c.name), name.length + 10)}).`);
    out.push(`-define(LUMIN_SCHEMA_VERSION_${macro(schema.kind)}, ${schema.version}).`);
  }
  out.push("", "-endif.", "");
  return out.join("\n");
}

const escape = (s: string) => s.replace(/\|/g, "\\|");

/** The README's table reference, between README_START and README_END. */
export function readmeTables(): string {
  const out = [README_START, ""];
  for (const schema of Object.values(SCHEMAS)) {
    out.push(`### \`${schema.kind}\` (version ${schema.version})`, "", schema.doc, "", "| column | type | meaning |", "|---|---|---|");
    for (const c of schema.columns) out.push(`| \`${c.name}\` | ${c.type}${c.nullable ? " or null" : ""} | ${escape(c.doc)} |`);
    out.push("");
  }
  out.push("### Probe states and why a probe ended", "", "A probe's `state`, in the order it goes through them:", "", "| state | meaning |", "|---|---|");
  for (const s of PROBE_STATES) out.push(`| \`${s.name}\` | ${escape(s.doc)} |`);
  out.push("", "Its `why_ended`, once it has ended:", "", "| why_ended | meaning |", "|---|---|");
  for (const w of WHY_ENDED) out.push(`| \`${w.name}\` | ${escape(w.doc)} |`);
  out.push("", README_END);
  return out.join("\n");
}

/** `readme` with its generated section replaced by the current one. */
export function withReadmeTables(readme: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`the README has no generated tables section (${README_START} … ${README_END})`);
  return readme.slice(0, start) + readmeTables() + readme.slice(end + README_END.length);
}

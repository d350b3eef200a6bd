/** The README documents what the code declares: every magic, and every table's columns. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAGICS } from "../../magics";
import { SCHEMAS } from "../../kernel/tables/schemas";

const README = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

describe("README", () => {
  it("lists every magic", () => {
    const missing = MAGICS.filter((m) => !README.includes(`\`%${m.kind === "cell" ? "%" : ""}${m.name}\``));
    expect(missing.map((m) => m.name)).toEqual([]);
  });

  it("documents every column of every table (regenerate with: node scripts/contract.js)", () => {
    for (const schema of Object.values(SCHEMAS)) {
      const start = README.indexOf(`### \`${schema.kind}\` (version ${schema.version})`);
      expect(start, `README section for ${schema.kind} v${schema.version}`).toBeGreaterThan(0);
      const section = README.slice(start, README.indexOf("\n### ", start + 1) > 0 ? README.indexOf("\n### ", start + 1) : undefined);
      for (const c of schema.columns) expect(section, `${schema.kind}.${c.name}`).toContain(`| \`${c.name}\` | ${c.type}${c.nullable ? " or null" : ""} |`);
    }
  });
});

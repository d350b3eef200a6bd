#!/usr/bin/env node
/**
 * Prints the README's "Tables" section from kernel/tables/schemas.ts (built in dist/), so the documented
 * columns are the real ones: `node scripts/schema-docs.js`. test/unit/readme.test.ts checks they agree.
 */
"use strict";
const path = require("node:path");
const { SCHEMAS } = require(path.join(__dirname, "..", "dist", "kernel", "tables", "schemas.js"));

const escape = (s) => s.replace(/\|/g, "\\|");
for (const schema of Object.values(SCHEMAS)) {
  process.stdout.write(`#### \`${schema.kind}\` (version ${schema.version})\n\n${schema.doc}\n\n| column | type | meaning |\n|---|---|---|\n`);
  for (const c of schema.columns) process.stdout.write(`| \`${c.name}\` | ${c.type}${c.nullable ? " or null" : ""} | ${escape(c.doc)} |\n`);
  process.stdout.write("\n");
}

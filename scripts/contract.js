#!/usr/bin/env node
/**
 * Writes what kernel/tables/schemas.ts generates (built in dist/): the agent's Erlang header and the README's
 * "Tables" section. Run after a build when a column, a probe state or a reason a probe ends changes:
 * `node scripts/contract.js`. test/unit/contract.test.ts fails until they agree.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const root = path.join(__dirname, "..");
const { erlangHeader, withReadmeTables, HEADER_FILE } = require(path.join(root, "dist", "kernel", "tables", "contractText.js"));

fs.writeFileSync(path.join(root, HEADER_FILE), erlangHeader());
const readme = path.join(root, "README.md");
fs.writeFileSync(readme, withReadmeTables(fs.readFileSync(readme, "utf8")));
process.stdout.write(`wrote ${HEADER_FILE} and the README's tables\n`);

#!/usr/bin/env node
"use strict";
const code = require("../dist/kernel/cli.js").main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;

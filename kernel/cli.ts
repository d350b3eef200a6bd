/** The `elixirlumin` command: `kernel CONNECTION_FILE` runs the kernel; `install` registers it with Jupyter. */
// install.ts is loaded only by `install`: the `kernel` command starts the compiler before loading anything.
import type { InstallOptions } from "./install";

const USAGE = `usage:
  elixirlumin kernel CONNECTION_FILE            run the kernel (Jupyter does this)
  elixirlumin install [--user|--sys-prefix|--prefix DIR]
                                                register the kernel with Jupyter (default --user)`;

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === "kernel") {
    if (rest.length !== 1) return fail("kernel needs exactly one argument: the connection file Jupyter wrote");
    // The TypeScript compiler takes the longest to start: its thread goes first, the kernel loads meanwhile.
    require("./evaluation/compiler").kernelCompiler().start();
    require("./main").startKernel(rest[0]);
    return -1;
  }
  if (command === "install") {
    let options: InstallOptions = { where: "user" };
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === "--user") options = { where: "user" };
      else if (rest[i] === "--sys-prefix") options = { where: "sys-prefix" };
      else if (rest[i] === "--prefix" || rest[i].startsWith("--prefix=")) {
        const prefix = rest[i] === "--prefix" ? rest[++i] : rest[i].slice("--prefix=".length);
        if (!prefix) return fail("--prefix needs a directory, e.g. --prefix /usr/local");
        options = { where: "prefix", prefix };
      } else return fail(`install does not understand "${rest[i]}"`);
    }
    const { install, prepareAgent } = require("./install") as typeof import("./install");
    const dir = install(options);
    process.stdout.write(`Installed the ElixirLumin kernelspec in ${dir}\n`);
    const agent = prepareAgent();
    process.stdout.write(`${agent.ok ? "The Elixir agent: " : "Note: "}${agent.message}\n`);
    return 0;
  }
  if (command === "-h" || command === "--help" || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  return fail(`unknown command "${command}"`);
}

function fail(message: string): number {
  process.stderr.write(`elixirlumin: ${message}\n${USAGE}\n`);
  return 2;
}

/** `elixirlumin install`: write the kernelspec Jupyter, JupyterLab, VS Code and nbconvert look for. */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { agentEbin, describeAgentEbin } from "./beam/agentBuild";

export const KERNEL_NAME = "elixirlumin";

export interface InstallOptions {
  where: "user" | "sys-prefix" | "prefix";
  prefix?: string;
}

function jupyterDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  return process.platform === "darwin" ? path.join(os.homedir(), "Library", "Jupyter") : path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "jupyter");
}

function sysPrefix(): string {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      return execFileSync(python, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" }).trim();
    } catch {
      // try the next one
    }
  }
  throw new Error("--sys-prefix needs python3 to find the prefix; use --prefix DIR instead");
}

export function kernelspecDir(options: InstallOptions): string {
  const base =
    options.where === "user" ? path.join(jupyterDataDir(), "kernels")
    : options.where === "sys-prefix" ? path.join(sysPrefix(), "share", "jupyter", "kernels")
    : path.join(options.prefix!, "share", "jupyter", "kernels");
  return path.join(base, KERNEL_NAME);
}

export function kernelspec(): Record<string, unknown> {
  return {
    argv: [process.execPath, path.join(__dirname, "..", "..", "bin", "elixirlumin.js"), "kernel", "{connection_file}"],
    display_name: "ElixirLumin (TypeScript)",
    language: "typescript",
    interrupt_mode: "message",
    metadata: { debugger: false },
  };
}

export function install(options: InstallOptions): string {
  const dir = kernelspecDir(options);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "kernel.json"), `${JSON.stringify(kernelspec(), null, 2)}\n`);
  // The launcher's and the notebook list's icon (Jupyter looks for these two names).
  for (const logo of ["logo-32x32.png", "logo-64x64.png"]) {
    const from = path.join(__dirname, "..", "..", "kernel", "assets", logo);
    if (existsSync(from)) copyFileSync(from, path.join(dir, logo));
  }
  return dir;
}

/**
 * Find (or compile once, into the user's cache) the Elixir agent the kernel's BEAM features need, so the
 * first `%node start` or `%connect` does not wait for it. Missing Erlang/Elixir (or a build that fails) is a
 * note, not a failure: TypeScript cells work without the agent.
 */
export function prepareAgent(): { ok: boolean; message: string } {
  try {
    return { ok: true, message: describeAgentEbin(agentEbin()) };
  } catch (e) {
    return { ok: false, message: `${(e as Error).message}\nUntil then TypeScript cells work, but %node, %connect, %%elixir and the probes do not.` };
  }
}

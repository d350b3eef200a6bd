/**
 * console.* and process.stdout/stderr writes from cells go to the running cell's output streams, formatted
 * without colours. The kernel's own diagnostics use the saved originals (`kernelLog`).
 */
import { formatWithOptions } from "node:util";
import { currentOutput, hasCurrentOutput } from "./currentOutput";

const originalStderrWrite = process.stderr.write.bind(process.stderr);

export function kernelLog(text: string): void {
  originalStderrWrite(`[elixirlumin] ${text}\n`);
}

export function captureConsole(): void {
  const to = (stream: "stdout" | "stderr") => (...args: unknown[]) => {
    if (hasCurrentOutput()) currentOutput().stream(stream, `${formatWithOptions({ colors: false }, ...args)}\n`);
  };
  console.log = console.info = console.debug = to("stdout");
  console.warn = console.error = console.trace = to("stderr");
  for (const name of ["stdout", "stderr"] as const) {
    const original = process[name].write.bind(process[name]);
    process[name].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (!hasCurrentOutput()) return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      currentOutput().stream(name, typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  }
}

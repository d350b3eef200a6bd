/** The kernel_info_reply content: who this kernel is and what language its cells hold. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { PROTOCOL_VERSION } from "./wire/message";

const ROOT = path.join(__dirname, "..", "..");

function versionOf(packageJson: string): string {
  try {
    return JSON.parse(readFileSync(packageJson, "utf8")).version as string;
  } catch {
    return "unknown";
  }
}

/** This package's version (package.json). */
export function kernelVersion(): string {
  return versionOf(path.join(ROOT, "package.json"));
}

export function kernelInfo(): Record<string, unknown> {
  const version = kernelVersion();
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "elixirlumin",
    implementation_version: version,
    language_info: {
      name: "typescript",
      version: versionOf(require.resolve("@tslab/typescript-for-tslab/package.json", { paths: [require.resolve("tslab")] })),
      mimetype: "text/typescript",
      file_extension: ".ts",
      codemirror_mode: { name: "javascript", typescript: true },
      pygments_lexer: "typescript",
    },
    banner: `ElixirLumin ${version}: TypeScript cells and %magics for live BEAM nodes. %lsmagic lists the magics.`,
    help_links: [{ text: "ElixirLumin magics", url: "https://github.com/elixirlumin/elixirlumin#magics" }],
  };
}

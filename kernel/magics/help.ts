/** Usage lines and help pages, generated from a magic's declaration (never written by hand). */
import type { FlagSpec, Magic } from "./declaration";

function flagUsage(f: FlagSpec): string {
  const name = f.short ? `-${f.short}/--${f.name}` : `--${f.name}`;
  const value = f.valueName ?? (f.choices ? f.choices.join("|") : "VALUE");
  if (f.takes === "none") return `[${name}]`;
  if (f.takes === "optional") return `[${name}[=${value}]]`;
  return `[${name} ${value}]`;
}

export function usage(decl: Magic): string {
  const prefix = decl.kind === "cell" ? "%%" : "%";
  const positionals = (decl.positionals ?? []).map((p) => {
    const name = p.choices ? p.choices.join("|") : p.name;
    const shown = p.rest ? `${name}...` : name;
    return p.optional ? `[${shown}]` : shown;
  });
  return [prefix + decl.name, ...positionals, ...(decl.flags ?? []).map(flagUsage)].join(" ");
}

export function helpText(decl: Magic): string {
  const lines = [usage(decl), "", decl.summary];
  if (decl.kind === "both") lines.push("", `Works as a line magic (%${decl.name} …) and as a cell magic (%%${decl.name} … with the code below).`);
  if (decl.details) lines.push("", decl.details.trim());
  const pos = decl.positionals ?? [];
  if (pos.length) {
    lines.push("", "Arguments:");
    for (const p of pos) lines.push(`  ${p.name.padEnd(22)} ${p.help}${p.optional ? " (optional)" : ""}`);
  }
  const flags = decl.flags ?? [];
  if (flags.length) {
    lines.push("", "Options:");
    for (const f of flags) {
      const name = `${f.short ? `-${f.short}, ` : ""}--${f.name}${f.takes === "value" ? ` ${f.valueName ?? "VALUE"}` : f.takes === "optional" ? `[=${f.valueName ?? "VALUE"}]` : ""}`;
      const notes = [f.choices ? `one of: ${f.choices.join(", ")}` : "", f.default !== undefined ? `default: ${f.default}` : "", f.bare !== undefined ? `--${f.name} alone: ${f.bare}` : ""].filter(Boolean);
      lines.push(`  ${name.padEnd(22)} ${f.help}${notes.length ? ` (${notes.join("; ")})` : ""}`);
    }
  }
  lines.push("  -h, --help             show this help");
  return lines.join("\n");
}

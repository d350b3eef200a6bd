/**
 * Completing a magic's arguments from its declaration: flag names, a flag's or a positional's `choices`, and
 * values from the source the declaration names (probe names, functions on the node, attached nodes). The
 * word under the cursor is matched to the positional or flag it fills, as the parser would read it.
 */
import type { CompletionSource, FlagSpec, Magic, PositionalSpec } from "./declaration";
import { splitWords } from "./parser";

/** Where completion values come from; the kernel implements it over its BEAM session. */
export interface CompletionSources {
  /** Names of this kernel's probes and loaded captures, newest first. */
  probes(): string[];
  /** `Mod.fun` words from the attached node: module names, or a module's functions once it is typed. */
  functions(word: string): Promise<string[]>;
  nodes(): string[];
}

/** What fills the word being typed after `before` (the argument text before it): a flag's value or a positional. */
function slotOf(decl: Magic, before: string): { flag?: FlagSpec; positional?: PositionalSpec } {
  let words: string[];
  try {
    words = splitWords(before);
  } catch {
    return {};
  }
  const flags = decl.flags ?? [];
  const positionals = decl.positionals ?? [];
  let index = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w.startsWith("-") && w.length > 1 && !/^-\d/.test(w)) {
      const long = w.startsWith("--");
      const name = long ? w.slice(2).split("=")[0] : w.slice(1, 2);
      const spec = flags.find((f) => (long ? f.name === name : f.short === name));
      const inline = long ? w.includes("=") : w.length > 2;
      if (spec?.takes === "value" && !inline) {
        if (i === words.length - 1) return { flag: spec };
        i++;
      }
      continue;
    }
    if (!positionals[index]?.rest) index++;
  }
  return { positional: positionals[Math.min(index, positionals.length - 1)] };
}

export async function completeArgs(decl: Magic, before: string, word: string, sources: CompletionSources): Promise<string[]> {
  if (word.startsWith("-")) {
    const names = (decl.flags ?? []).flatMap((f) => [`--${f.name}`, ...(f.short && word.length <= 2 ? [`-${f.short}`] : [])]).concat("--help");
    return names.filter((f) => f.startsWith(word));
  }
  const { flag, positional } = slotOf(decl, before);
  const spec = flag ?? positional;
  if (!spec) return [];
  const fixed = (spec.choices ?? []).filter((c) => c.startsWith(word));
  const dynamic = spec.completes ? await fromSource(spec.completes, word, sources).catch(() => []) : [];
  return [...fixed, ...dynamic.filter((d) => !fixed.includes(d))];
}

async function fromSource(source: CompletionSource, word: string, sources: CompletionSources): Promise<string[]> {
  switch (source) {
    case "probes":
      return sources.probes().filter((n) => n.startsWith(word));
    case "nodes":
      return sources.nodes().filter((n) => n.startsWith(word));
    case "functions":
      return sources.functions(word);
  }
}

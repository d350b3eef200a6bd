/**
 * What completion offers from the BEAM side: this kernel's probe names, the attached nodes, and module and
 * function names asked of the node as the user writes them (`Shop.Pri` → modules, `Shop.Pricing.` or
 * `Shop.Pricing.pr` → its functions, `:lists.re`, `lists:re` → Erlang functions).
 */
import type { CompletionSources } from "../magics/completion";
import type { BeamSession } from "./session";

export function beamCompletionSources(session: () => BeamSession): CompletionSources {
  return {
    probes: () => session().probes.names(),
    nodes: () => session().attached().map((n) => n.node),
    functions: (word) => completeFunction(session(), word),
  };
}

async function completeFunction(session: BeamSession, word: string): Promise<string[]> {
  let node: string;
  try {
    node = session.node().node;
  } catch {
    return []; // nothing attached: nothing to ask
  }
  const erlang = /^([a-z][\w@]*):([\w@]*)$/.exec(word) ?? /^:([a-z][\w@]*)\.([\w@]*)$/.exec(word);
  if (erlang) {
    const [, mod, prefix] = erlang;
    const sep = word.startsWith(":") ? "." : ":";
    return (await session.complete(node, mod, prefix)).map((f) => `${word.startsWith(":") ? ":" : ""}${mod}${sep}${f}`);
  }
  const alias = /^((?:[A-Z]\w*\.)*)([A-Za-z_]\w*[?!]?)?$/.exec(word);
  if (alias) {
    const [, mods, last = ""] = alias;
    const mod = mods.replace(/\.$/, "");
    // A lower-case last part, or nothing after a dot: the functions of the module before it.
    const functions = mod && !/^[A-Z]/.test(last) ? (await session.complete(node, mod, last)).map((f) => `${mods}${f}`) : [];
    // An upper-case last part, or no module yet: module names (Elixir ones without their `Elixir.`).
    const modules = /^[A-Z]/.test(last) || !mod ? await session.complete(node, null, word) : [];
    return [...functions, ...modules];
  }
  const atom = /^:?([a-z][\w@]*)?$/.exec(word);
  if (atom) return (await session.complete(node, null, atom[1] ?? "")).filter((m) => /^[a-z]/.test(m)).map((m) => (word.startsWith(":") ? `:${m}` : m));
  return [];
}

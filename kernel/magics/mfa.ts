/** Reading a function name as users write it: `Mod.fun/2`, `Mod.fun`, `:mod.fun/2`, `mod:fun/2`. */
import { MagicUsageError } from "./declaration";

export interface Mfa {
  /** As the node names it: `Elixir.Shop.Orders`, `lists`. */
  module: string;
  function: string;
  /** null: every arity. */
  arity: number | null;
}

const FUN = String.raw`([a-z_][A-Za-z0-9_@]*[?!]?|'[^']+')`;
const ARITY = String.raw`(?:/(\d+))?`;
const ERLANG = new RegExp(`^([a-z][A-Za-z0-9_@]*|'[^']+'):${FUN}${ARITY}$`);
const ATOM_MODULE = new RegExp(`^:([a-z_][A-Za-z0-9_@]*)\\.${FUN}${ARITY}$`);
const ALIAS = new RegExp(`^([A-Z][A-Za-z0-9_]*(?:\\.[A-Z][A-Za-z0-9_]*)*)\\.${FUN}${ARITY}$`);

const unquote = (s: string) => s.replace(/^'(.*)'$/, "$1");

export function parseMfa(text: string): Mfa {
  let m = ERLANG.exec(text) ?? ATOM_MODULE.exec(text);
  if (m) return { module: unquote(m[1]), function: unquote(m[2]), arity: m[3] === undefined ? null : Number(m[3]) };
  m = ALIAS.exec(text);
  if (m) return { module: `Elixir.${m[1]}`, function: unquote(m[2]), arity: m[3] === undefined ? null : Number(m[3]) };
  throw new MagicUsageError(
    `"${text}" is not a function name. Write it as Mod.fun/arity (Elixir), :mod.fun/arity or mod:fun/arity (Erlang); leave out /arity for every arity.`,
  );
}

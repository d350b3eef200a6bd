/** What BEAM magics share: the session service, the node a magic targets, and snapshot tables. */
import type { MagicContext } from "../kernel/magics/declaration";
import type { BeamSession } from "../kernel/beam/session";
import { decodeBatch } from "../kernel/beam/batchDecoder";
import { mergeColumns } from "../kernel/tables/tableBuilder";
import { columnNames, SCHEMAS, type TableKind } from "../kernel/tables/schemas";
import { setTableMeta } from "../kernel/tables/tableMeta";

export const beam = (ctx: Pick<MagicContext, "service">): BeamSession => ctx.service<BeamSession>("beam");

/** The `--node` flag every BEAM magic takes. */
export const NODE_FLAG = { name: "node", takes: "value", valueName: "NODE", help: "the attached node to use (default: the one attached last)" } as const;

export function targetNode(ctx: Pick<MagicContext, "service">, flag: unknown): string {
  return beam(ctx).node(typeof flag === "string" ? flag : undefined).node;
}

/** A snapshot batch from the node as an Arquero table in its schema. */
export async function batchTable(bytes: Uint8Array, kind: TableKind, node: string): Promise<object> {
  const aq = await import("arquero");
  const batch = decodeBatch(bytes);
  const names = columnNames(kind);
  const table = aq.table(mergeColumns([batch], names, "elixir") as never, names);
  setTableMeta(table, { kind, schemaVersion: SCHEMAS[kind].version, node, dropped: 0, seen: batch.count });
  return table;
}

/** Module names for completing `Mod.fun` words, asked of the node. */
export async function completeMfa(word: string, ctx: Pick<MagicContext, "service">): Promise<string[]> {
  const session = beam(ctx);
  let node: string;
  try {
    node = session.node().node;
  } catch {
    return [];
  }
  const colon = word.lastIndexOf(":");
  const dot = word.lastIndexOf(".");
  if (colon > 0 || (dot > 0 && /^[A-Z:]/.test(word))) {
    const at = Math.max(colon, dot);
    const mod = word.slice(word.startsWith(":") ? 1 : 0, at);
    const fns = await session.complete(node, mod, word.slice(at + 1));
    return fns.map((f) => `${word.slice(0, at + 1)}${f}`);
  }
  const mods = await session.complete(node, null, word.replace(/^:/, ""));
  return mods.map((m) => (word.startsWith(":") ? `:${m}` : m));
}

/**
 * Every table the kernel hands out is made here, in its schema (kernel/tables/schemas.ts) and with its
 * metadata: a probe's rows (for the probe store), a snapshot of a node (%top, %tree, %apps, %ets), the list
 * of probes (%probes) and of attached nodes (%nodes). Arquero loads on the first table, not with the kernel.
 */
import { decodeBatch } from "../beam/batchDecoder";
import type { ProbeStatusEvent } from "../beam/protocol";
import type { ColumnTable } from "../analysis/aq";
import { columnNames, SCHEMAS, type ProbeKind, type SnapshotKind, type TableKind } from "./schemas";
import { setTableMeta, tableMeta, type TableMeta } from "./tableMeta";
import { mergeColumns, type ArqueroColumn } from "./tableBuilder";
import { ConstColumn, DictColumn } from "./columns";

const arquero = () => import("arquero");

/** Columns (as the table builder holds them) as an Arquero table of `kind`, with its metadata. No copy. */
export async function columnTable(kind: TableKind, columns: Record<string, ArqueroColumn>, meta: Omit<TableMeta, "kind" | "schemaVersion">): Promise<ColumnTable> {
  const aq = await arquero();
  const table = aq.table(columns as never, columnNames(kind)) as ColumnTable;
  setTableMeta(table, { ...meta, kind, schemaVersion: SCHEMAS[kind].version });
  return table;
}

/**
 * A message probe's table without its `timeout` rows (each a `receive … after` that timed out: on a server
 * that polls, most of the rows), as %events shows it unless asked for them, and as every magic that takes a
 * probe's name as its table sees it (`%chart`, `%explain`, `%capture`: kernel/magics/tableArgument.ts). The rows
 * stay in the probe's data (`%events NAME --timeouts`); the metadata counts them, so the caption says how many
 * were left out and how to see them. `name` is what the user called the table by.
 */
export function withoutTimeoutRows(table: ColumnTable, name: string): ColumnTable {
  const meta = tableMeta(table);
  if (meta?.kind !== "messages" || !table.columnNames().includes("event")) return table;
  // Most tables have no timeout row at all, which their event column's few values tell at once: no pass over
  // the rows (a filter over a flood's 100,000 rows costs more than building the table).
  if (!mayHold(table.column("event") as unknown, "timeout")) return table;
  const shown = table.filter((d: { event: string }) => d.event !== "timeout") as ColumnTable;
  const rows = table.numRows() - shown.numRows();
  if (rows === 0) return table;
  const note = `${rows.toLocaleString("en")} timeout row${rows === 1 ? "" : "s"} hidden — %events ${name} --timeouts shows them`;
  setTableMeta(shown, { ...meta, hidden: { rows, note } });
  return shown;
}

/** Whether a column may hold `value`: false only when its values are known without reading its rows. */
function mayHold(column: unknown, value: unknown): boolean {
  if (column instanceof ConstColumn) return column.length > 0 && column.value === value;
  if (column instanceof DictColumn) return column.values.includes(value);
  return true;
}

/** A snapshot batch from the node (%top, %tree, %apps, %ets) as a table in its schema. */
export async function snapshotTable(bytes: Uint8Array, kind: SnapshotKind, node: string): Promise<ColumnTable> {
  const batch = decodeBatch(bytes);
  return columnTable(kind, mergeColumns([batch], columnNames(kind), "elixir"), { node, dropped: 0, seen: batch.count });
}

/**
 * Snapshot batches from several nodes as one table (`%top --nodes all`): the rows of every node, each row
 * naming its node; the metadata names the nodes.
 */
export async function clusterSnapshotTable(parts: readonly Uint8Array[], kind: SnapshotKind, nodes: readonly string[]): Promise<ColumnTable> {
  const batches = parts.map((b) => decodeBatch(b));
  const seen = batches.reduce((a, b) => a + b.count, 0);
  return columnTable(kind, mergeColumns(batches, columnNames(kind), "elixir"), { node: `${nodes.length} nodes (${nodes.join(", ")})`, dropped: 0, seen });
}

/** One row of %probes. */
export interface ProbeRow {
  status: ProbeStatusEvent;
  kind: ProbeKind;
}

/** The `probes` table: newest probe first, as a user looks for the one just armed. */
export async function probesTable(probes: readonly ProbeRow[]): Promise<ColumnTable> {
  const aq = await arquero();
  const rows = [...probes].reverse();
  const col = <T>(f: (p: ProbeRow) => T) => rows.map(f);
  const table = aq.table(
    {
      name: col((p) => p.status.name),
      node: col((p) => p.status.node),
      kind: col((p) => p.kind),
      target: col((p) => p.status.target),
      state: col((p) => p.status.state),
      seen: col((p) => p.status.seen),
      dropped: col((p) => p.status.dropped),
      why_ended: col((p) => p.status.why_ended ?? null),
      detail: col((p) => p.status.detail ?? null),
    } satisfies Record<(typeof SCHEMAS.probes.columns)[number]["name"], unknown[]> as never,
    columnNames("probes"),
  ) as ColumnTable;
  // No metadata: its caption would read as one probe's counts.
  return table;
}

/** A node of an attached node's cluster, as %nodes shows it. */
export interface PeerRow {
  peer: string;
  type: "visible" | "hidden";
  change: "joined" | "left" | "present";
  at: Date;
  seenFrom: string;
}

/**
 * The attached nodes (%nodes), then the cluster's nodes that are not attached. `cluster`: how the node is
 * connected in its cluster (`visible` or `hidden`), and when it joined or left after the cluster was attached.
 */
export async function nodesTable(
  nodes: readonly { node: string; otp_release: string; elixir_version: string | null; process_count: number; owned: boolean; down?: { at: Date; reason: string } }[],
  peers: readonly PeerRow[] = [],
): Promise<ColumnTable> {
  const aq = await arquero();
  const byPeer = new Map(peers.map((p) => [p.peer, p]));
  const clusterText = (p: PeerRow | undefined) =>
    !p ? null : p.change === "present" ? p.type : `${p.type}, ${p.change} at ${p.at.toISOString()} (seen from ${p.seenFrom})`;
  const others = peers.filter((p) => !nodes.some((n) => n.node === p.peer));
  return aq.table({
    node: [...nodes.map((n) => n.node), ...others.map((p) => p.peer)],
    state: [...nodes.map((n) => (n.down ? "down" : "up")), ...others.map((p) => (p.change === "left" ? "left the cluster" : "not attached"))],
    since: [...nodes.map((n) => n.down?.at.toISOString() ?? null), ...others.map((p) => (p.change === "present" ? null : p.at.toISOString()))],
    why: [...nodes.map((n) => n.down?.reason ?? null), ...others.map((p) => (p.change === "left" ? null : `%connect ${p.peer} --cluster attaches it`))],
    cluster: [...nodes.map((n) => clusterText(byPeer.get(n.node))), ...others.map((p) => clusterText(p))],
    otp_release: [...nodes.map((n) => n.otp_release), ...others.map(() => null)],
    elixir: [...nodes.map((n) => n.elixir_version), ...others.map(() => null)],
    processes: [...nodes.map((n) => n.process_count), ...others.map(() => null)],
    owned: [...nodes.map((n) => n.owned), ...others.map(() => null)],
  } as never) as ColumnTable;
}

/**
 * A what-if's replays (the shadow node's batch) as a `whatif` table: its caption says what was replayed and
 * how it went (same, different, raised, would call, timed out, not replayed), with the notes the shadow node
 * had (an OTP that differs, a module whose .beam is not the loaded one).
 */
export async function whatifTable(bytes: Uint8Array, o: { name: string; node: string; source: string; syntax: "elixir" | "erlang"; notes: string[] }): Promise<ColumnTable> {
  const batch = decodeBatch(bytes);
  const table = await columnTable("whatif", mergeColumns([batch], columnNames("whatif"), o.syntax), { node: o.node, dropped: 0, seen: batch.count });
  const n = table.numRows();
  const outcome = table.array("outcome") as ArrayLike<string>;
  const same = table.array("same") as ArrayLike<boolean | null>;
  const count = (f: (i: number) => boolean) => Array.from({ length: n }, (_, i) => i).filter(f).length;
  const parts = [
    [count((i) => same[i] === true), "same result"],
    [count((i) => same[i] === false), "different"],
    [count((i) => outcome[i] === "would_call"), "would call out"],
    [count((i) => outcome[i] === "timeout"), "timed out"],
    [count((i) => outcome[i] === "not_replayed"), "not replayed"],
  ].filter(([c]) => (c as number) > 0).map(([c, what]) => `${(c as number).toLocaleString("en")} ${what}`);
  const summary = `what-if of ${o.source} on the shadow node (recorded on ${o.node}) — ${n.toLocaleString("en")} replay${n === 1 ? "" : "s"}${parts.length ? `: ${parts.join(", ")}` : ""}`;
  setTableMeta(table, { ...tableMeta(table)!, probe: o.name, target: o.source, state: "ended", summary, notes: o.notes });
  return table;
}

import type { RedactionPolicy } from "../redaction/policy";

/**
 * What a probe table knows about itself (probe spec, node, counts, why the probe ended), kept beside the
 * Arquero table rather than inside it, so the table stays a plain Arquero table.
 */
export interface TableMeta {
  probe?: string;
  kind: string;
  schemaVersion: number;
  node?: string;
  target?: string;
  spec?: Record<string, unknown>;
  seen?: number;
  /** Events dropped on the node, counted exactly. */
  dropped: number;
  state?: string;
  whyEnded?: string | null;
  detail?: string | null;
  /**
   * The redaction policies in force on the node while the rows were taken, oldest first: one, unless
   * `%redact` changed it while the probe was armed. Captures carry it (kernel/redaction/policy.ts).
   */
  redaction?: readonly RedactionPolicy[];
  /** Rows this table leaves out of the probe's data, and the sentence that says so (and how to see them). */
  hidden?: { rows: number; note: string };
  /** Sentences shown under the caption's first line whatever the state: a probe across nodes names each node lost (and when) or that refused it. */
  /** A what-if table: what was replayed and how it went, in one line (its notes follow). */
  summary?: string;
  notes?: string[];
}

const metas = new WeakMap<object, TableMeta>();

export function setTableMeta(table: object, meta: TableMeta): void {
  metas.set(table, meta);
}

export function tableMeta(table: object): TableMeta | undefined {
  return metas.get(table);
}

/** The caption of a displayed probe table: one line, and a second when the table leaves rows out. */
export function describeMeta(m: TableMeta): string {
  if (m.summary !== undefined) return [`${m.probe ? `${m.probe}: ` : ""}${m.summary}`, ...(m.notes ?? [])].join("\n");
  const parts = [m.probe ? `${m.probe}: ${m.kind}` : m.kind];
  if (m.target) parts.push(m.target);
  if (m.node) parts.push(`on ${m.node}`);
  const counts = [`${(m.seen ?? 0).toLocaleString("en")} seen`, `${m.dropped.toLocaleString("en")} dropped`];
  // Why it ended, said once: the sentence when there is one ("disarmed by the user"), else the reason's name.
  const why = m.detail ?? m.whyEnded?.replace(/_/g, " ");
  const state = m.state === "ended" ? `ended${why ? ` (${why})` : ""}` : m.state;
  const line = `${parts.join(" ")} — ${counts.join(", ")}${state ? `; ${state}` : ""}`;
  return [line, ...(m.notes ?? []), ...(m.hidden ? [m.hidden.note] : [])].join("\n");
}

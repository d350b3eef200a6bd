/**
 * The redaction policy: which keys mark a value as secret. The agent on every attached node applies it to each
 * term before the term leaves the node (elixir_agent/src/lumin_redact.erl); the kernel only keeps it, sends it
 * to each node it attaches, and states it in captures, reports and recordings.
 *
 * A key matches when it contains one of the policy's keys, case-insensitively (`DB_PASSWORD`, `:auth_token`,
 * `"Authorization"`). One per kernel, in its state (kernel/kernelState.ts); `%redact` changes it.
 */

/** The keys redacted by default (the README's Redaction section lists them too). */
export const DEFAULT_SECRET_KEYS: readonly string[] = [
  "password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "cookie", "session", "private_key",
  "credentials",
];

/** The policy in force: a plain value (JSON as it is), safe to keep or write; a new one on every change. */
export interface RedactionPolicy {
  /** False after `%redact off`: terms leave the nodes as they are. */
  readonly enabled: boolean;
  /** Lower-case key fragments, in the order they were added. */
  readonly keys: readonly string[];
}

export const DEFAULT_POLICY: RedactionPolicy = Object.freeze({ enabled: true, keys: Object.freeze([...DEFAULT_SECRET_KEYS]) });

/** One line for captions, captures and reports: `on: password, token, …` or `off`. */
export function describePolicy(p: RedactionPolicy): string {
  if (!p.enabled) return "off (terms left the nodes unredacted)";
  return p.keys.length ? `on: ${p.keys.join(", ")}` : "on, with no keys (only values already known to be secret)";
}

/** The policies a table's rows were taken under, in one line (a capture's or report's statement). */
export function describePolicies(list: readonly RedactionPolicy[]): string {
  const distinct = list.filter((p, i) => i === 0 || describePolicy(p) !== describePolicy(list[i - 1]));
  return distinct.length === 1 ? describePolicy(distinct[0]) : `changed while its rows were taken: ${distinct.map(describePolicy).join(" → ")}`;
}

/** Keys as the policy keeps them: trimmed, lower case, no empty ones. */
export function normalizeKeys(words: readonly string[]): string[] {
  return words.map((w) => w.trim().replace(/^:/, "").toLowerCase()).filter((w) => w.length > 0);
}

/**
 * The kernel's policy and who wants to know when it changes (the BEAM session pushes it to every attached
 * node). Changes make a new frozen value, so one read by a recording or a capture never changes under it.
 */
export class RedactionSettings {
  private current: RedactionPolicy = DEFAULT_POLICY;
  private readonly changes: { policy: RedactionPolicy; since: Date }[] = [{ policy: DEFAULT_POLICY, since: new Date() }];
  private readonly listeners = new Set<(p: RedactionPolicy) => void | Promise<void>>();

  get policy(): RedactionPolicy {
    return this.current;
  }

  /** Set the policy; resolves once every listener (every attached node) has it. */
  async set(next: RedactionPolicy): Promise<void> {
    this.current = Object.freeze({ enabled: next.enabled, keys: Object.freeze([...next.keys]) });
    this.changes.push({ policy: this.current, since: new Date() });
    await Promise.all([...this.listeners].map((l) => l(this.current)));
  }

  /** Every policy this kernel has had, oldest first, with when it came into force (a report states them). */
  history(): readonly { policy: RedactionPolicy; since: Date }[] {
    return this.changes;
  }

  onChange(listener: (p: RedactionPolicy) => void | Promise<void>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

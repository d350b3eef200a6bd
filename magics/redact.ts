/**
 * %redact: show or change the redaction policy — the keys whose values the agent on each node replaces with
 * `[redacted]` before a term leaves the node (kernel/redaction/policy.ts, elixir_agent/src/lumin_redact.erl).
 * A change is set on every attached node at once and on every node attached later.
 */
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
import { DEFAULT_POLICY, describePolicy, normalizeKeys, type RedactionPolicy } from "../kernel/redaction/policy";

export const redact = defineMagic({
  name: "redact",
  kind: "line",
  summary: "Show the redaction policy (secrets are redacted on the node), or add, remove keys, turn it off or on.",
  details: `Values under a key that contains one of the policy's keys (case-insensitive: DB_PASSWORD, :auth_token,
"Authorization") are replaced on the node by [redacted] — in maps, structs, keyword lists and records — and
so are arguments whose parameter is named so in the function's source (def login(user, password)). A value
once found so is redacted wherever else it appears in that node's evidence afterwards.

A change applies to this kernel: every attached node now, and every node attached later. Rows already
taken keep what they had. off ships terms as they are (a warning says so); on turns it back on; reset
brings back the default keys.

Examples:
  %redact
  %redact add pin ssn
  %redact remove session
  %redact off`,
  positionals: [
    { name: "ACTION", help: "add, remove, off, on or reset (none: show the policy)", optional: true, choices: ["add", "remove", "off", "on", "reset"] },
    { name: "KEYS", help: "add/remove: the keys (any case; a leading : is ignored)", rest: true, optional: true },
  ],
  showsResult: true,
  async run({ args }, ctx) {
    const settings = ctx.beam.redaction;
    const before = settings.policy;
    const action = args.positionals.ACTION;
    const keys = normalizeKeys(args.positionals.KEYS);
    if ((action === "add" || action === "remove") && keys.length === 0) {
      throw new MagicUsageError(`%redact ${action} needs at least one key, e.g. %redact ${action} pin`);
    }
    if (action !== "add" && action !== "remove" && keys.length > 0) {
      throw new MagicUsageError(`%redact ${action ?? ""} takes no keys (got ${keys.join(" ")}); to change keys: %redact add KEY… or %redact remove KEY…`.replace("  ", " "));
    }
    let next: RedactionPolicy | undefined;
    if (action === "add") next = { enabled: before.enabled, keys: [...before.keys, ...keys.filter((k) => !before.keys.includes(k))] };
    else if (action === "remove") {
      const unknown = keys.filter((k) => !before.keys.includes(k));
      if (unknown.length === keys.length) {
        throw new MagicUsageError(`${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in the policy (keys: ${before.keys.join(", ") || "none"})`);
      }
      next = { enabled: before.enabled, keys: before.keys.filter((k) => !keys.includes(k)) };
    } else if (action === "off") next = { enabled: false, keys: before.keys };
    else if (action === "on") next = { enabled: true, keys: before.keys };
    else if (action === "reset") next = DEFAULT_POLICY;
    if (next) await settings.set(next);
    const policy = settings.policy;
    if (action === "off") {
      ctx.io.stream(
        "stderr",
        "warning: redaction is off — arguments, results, messages, states and logs now leave the nodes with their secrets, " +
          "and go into tables, captures and reports as they are. %redact on turns it back on.\n",
      );
    }
    const attached = ctx.beam.attached().filter((n) => !n.down).length;
    const where = next ? ` (set on ${attached} attached node${attached === 1 ? "" : "s"}, and on nodes attached later)` : "";
    const text = `Redaction ${describePolicy(policy)}${where}.`;
    return {
      policy,
      [Symbol.for("Jupyter.display")]: () => ({ "text/plain": text }),
    };
  },
});

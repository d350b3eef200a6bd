/** The kernel's side of redaction: the marker reads [redacted] in both syntaxes, and the policy it keeps. */
import { describe, expect, it } from "vitest";
import { Atom, ErlMap, List, Tuple } from "../../kernel/beam/etf";
import { Term, toJs } from "../../kernel/beam/term";
import { formatTerm } from "../../kernel/beam/termFormat";
import { ProbeStore } from "../../kernel/tables/probeStore";
import { tableMeta } from "../../kernel/tables/tableMeta";
import { DEFAULT_POLICY, describePolicies, describePolicy, normalizeKeys, RedactionSettings } from "../../kernel/redaction/policy";

const R = new Atom("lumin_redacted");

describe("the marker", () => {
  it("reads [redacted] in Elixir and Erlang syntax, in keyword lists, maps and as a plain value", () => {
    const state = new ErlMap([[new Atom("user"), Buffer.from("ann")], [new Atom("password"), R]]);
    expect(formatTerm(state, "elixir")).toBe('%{user: "ann", password: [redacted]}');
    expect(formatTerm(state, "erlang")).toBe("#{user => <<\"ann\">>,password => [redacted]}");
    const kw = new List([new Tuple([new Atom("authorization"), R])]);
    expect(formatTerm(kw, "elixir")).toBe("[authorization: [redacted]]");
    expect(toJs(new Tuple([new Atom("ok"), R]))).toEqual(["ok", "[redacted]"]);
    expect(String(Term.of(new List([Buffer.from("ann"), R])))).toBe('["ann", [redacted]]');
  });
});

describe("the policy", () => {
  it("starts with the default keys, and each change is a new frozen value kept in the history", async () => {
    const s = new RedactionSettings();
    expect(s.policy).toBe(DEFAULT_POLICY);
    expect(describePolicy(s.policy)).toBe("on: password, passwd, secret, token, api_key, apikey, authorization, cookie, session, private_key, credentials");
    const seen: string[] = [];
    s.onChange((p) => void seen.push(describePolicy(p)));
    const first = s.policy;
    await s.set({ enabled: false, keys: first.keys });
    expect(first.enabled).toBe(true);
    expect(Object.isFrozen(s.policy)).toBe(true);
    expect(seen).toEqual(["off (terms left the nodes unredacted)"]);
    expect(s.history().map((h) => h.policy.enabled)).toEqual([true, false]);
    expect(describePolicies([first, s.policy])).toBe(`changed while its rows were taken: ${describePolicy(first)} → off (terms left the nodes unredacted)`);
    expect(normalizeKeys([" PIN ", ":Api_Token", ""])).toEqual(["pin", "api_token"]);
  });
});

describe("a probe's table", () => {
  it("carries the policies its rows were taken under, which a capture then states", async () => {
    const store = new ProbeStore();
    const off = { enabled: false, keys: DEFAULT_POLICY.keys };
    store.add({
      name: "p1", node: "a@h", kind: "calls", target: "lists:seq/2", syntax: "erlang", redaction: [DEFAULT_POLICY, off],
      status: { name: "p1", node: "a@h", kind: "calls", target: "lists:seq/2", state: "armed", seen: 0, dropped: 0, rate: 0, why_ended: null, detail: null },
      spec: { target: "lists:seq/2", module: "lists", function: "seq", arity: 2, match: null, args: false, load: true },
    });
    expect(tableMeta(await store.table("p1"))?.redaction).toEqual([DEFAULT_POLICY, off]);
  });
});

/** The one magic parser: words, flags, defaults, and the usage errors users see. */
import { describe, expect, it } from "vitest";
import { parseArgs, parseDuration, parseRate, splitWords } from "../../kernel/magics/parser";
import { probe, probeSpec } from "../../magics/probe";
import { top, ets } from "../../magics/snapshots";
import { time } from "../../magics/time";
import { events } from "../../magics/events";
import { chart } from "../../magics/chart";
import { connect } from "../../magics/connect";
import { completeArgs, type CompletionSources } from "../../kernel/magics/completion";
import { elixir } from "../../magics/eval";
import { MagicUsageError } from "../../kernel/magics/declaration";
import { helpText, usage } from "../../kernel/magics/help";
import { parseMagicLine, rewriteMagics } from "../../kernel/evaluation/cellSource";

describe("splitWords", () => {
  it("splits on blanks and keeps quoted text whole", () => {
    expect(splitWords(`Shop.Orders.place/2 --match "[id, _] when id > 10" --as 'my probe'`)).toEqual(["Shop.Orders.place/2", "--match", "[id, _] when id > 10", "--as", "my probe"]);
  });
  it("says which quote is not closed", () => {
    expect(() => splitWords(`--match "[id`)).toThrow(/double quote is not closed/);
  });
});

describe("parseArgs", () => {
  it("reads positionals, flags with values (both spellings) and switches", () => {
    const a = parseArgs(probe, "Shop.Pricing.price/2 --limit 500 --for=10s --args");
    expect(a.positionals.MFA).toBe("Shop.Pricing.price/2");
    expect(a.flags).toMatchObject({ limit: 500, for: 10_000, args: true });
  });
  it("names an unknown flag and suggests the closest one", () => {
    expect(() => parseArgs(probe, "Shop.Pricing.price/2 --limt 5")).toThrow(MagicUsageError);
    expect(() => parseArgs(probe, "Shop.Pricing.price/2 --limt 5")).toThrow(/--limt.*--limit/s);
  });
  it("leaves code after a raw rest positional alone, options and arrows included", () => {
    const a = parseArgs(elixir, "--node a@b Enum.map([1], fn x -> x end) -- [1]");
    expect(a.flags.node).toBe("a@b");
    expect((a.positionals.CODE as string[]).join(" ")).toBe("Enum.map([1], fn x -> x end) -- [1]");
  });
  it("rejects a value outside a flag's choices", () => {
    expect(() => parseArgs(probe, "--logs=loud")).toThrow(/loud/);
  });
});

describe("typed flags (declared with their type and default)", () => {
  it("gives each flag its declared type: numbers, durations in ms, rates per second, switches as booleans", () => {
    const a = parseArgs(probe, "lists:seq/2 --limit 10_000 --for 2m --rate 60/m");
    expect(a.flags).toMatchObject({ limit: 10_000, for: 120_000, rate: 1, args: false, metrics: false, telemetry: [] });
    expect(a.flags.as).toBeUndefined();
  });
  it("fills in declared defaults when a flag is not given", () => {
    expect(parseArgs(top, "").flags).toMatchObject({ n: 10, by: "reductions" });
    expect(parseArgs(ets, "").flags).toMatchObject({ n: 20 });
    expect(parseArgs(connect, "a@b").flags).toMatchObject({ timeout: 5000 });
  });
  it("reads a short flag as -n 3, -n3 and -n=3", () => {
    for (const text of ["-n 3", "-n3", "-n=3", "--n 3"]) expect(parseArgs(top, text).flags.n).toBe(3);
    expect(parseArgs(top, "-n 3 --by memory").flags).toMatchObject({ n: 3, by: "memory" });
  });
  it("names a bad value by the flag as it was written", () => {
    expect(() => parseArgs(top, "-n three")).toThrow(/-n must be a positive whole number, not "three"/);
    expect(() => parseArgs(probe, "lists:seq/2 --for soon")).toThrow(/--for "soon" is not a duration/);
    expect(() => parseArgs(top, "-n 3 -n 4")).toThrow(/-n is given twice/);
  });
  it("gives an optional-value flag its bare value when given bare, its value when given one", () => {
    expect(parseArgs(events, "p1").flags.wait).toBeUndefined();
    expect(parseArgs(events, "p1 --wait").flags.wait).toBe(60_000);
    expect(parseArgs(events, "p1 --wait=5s").flags.wait).toBe(5000);
  });
  it("leaves a timed statement's words to the statement: %time %top -n 3", () => {
    const a = parseArgs(time, "%top -n 3");
    expect(a.positionals.statement).toEqual(["%top", "-n", "3"]);
  });
  it("shows defaults in the help, from the declaration", () => {
    expect(helpText(top)).toMatch(/-n, --n N\s+how many processes \(default: 10\)/);
    expect(helpText(events)).toMatch(/--wait\[=DURATION\].*--wait alone: 60s/);
  });
});

describe("completion from the declaration", () => {
  const sources: CompletionSources = {
    probes: () => ["p3", "orders", "p1"],
    nodes: () => ["shop@host"],
    functions: async (w) => [`${w}ricing`],
  };
  it("completes probe names where a declaration takes a probe, and choices before them", async () => {
    expect(await completeArgs(events, "", "", sources)).toEqual(["p3", "orders", "p1"]);
    expect(await completeArgs(events, "", "or", sources)).toEqual(["orders"]);
    expect(await completeArgs(chart, "", "la", sources)).toEqual(["latency"]);
    expect(await completeArgs(chart, "latency ", "p", sources)).toEqual(["p3", "p1"]);
  });
  it("completes a flag's value from its source, and flags by name", async () => {
    expect(await completeArgs(probe, "lists:seq/2 --node ", "sh", sources)).toEqual(["shop@host"]);
    expect(await completeArgs(probe, "", "--li", sources)).toEqual(["--limit"]);
    expect(await completeArgs(probe, "--as x ", "Shop.P", sources)).toEqual(["Shop.Pricing"]);
    expect(await completeArgs(top, "", "-", sources)).toContain("-n");
  });
});

describe("probe specs", () => {
  it("turns the MFA forms into module, function and arity", () => {
    const forms: [string, string, string, number | null][] = [
      ["Shop.Orders.place/2", "Elixir.Shop.Orders", "place", 2],
      ["Shop.Orders.place", "Elixir.Shop.Orders", "place", null],
      [":lists.seq/2", "lists", "seq", 2],
      ["lists:seq/2", "lists", "seq", 2],
    ];
    for (const [text, module, fn, arity] of forms) {
      const { kind, spec } = probeSpec(text, parseArgs(probe, text).flags);
      expect(kind).toBe("calls");
      expect(spec).toMatchObject({ module, function: fn, arity });
    }
  });
  it("takes a message probe's target after the flag, or --new for new processes", () => {
    expect(probeSpec("Shop.Inventory", parseArgs(probe, "--messages Shop.Inventory").flags).spec).toMatchObject({ process: "Shop.Inventory" });
    const args = parseArgs(probe, "--messages --new");
    expect(probeSpec(args.positionals.MFA as string | undefined, args.flags).spec).toMatchObject({ process: "new" });
    expect(() => probeSpec(undefined, parseArgs(probe, "--messages").flags)).toThrow(/needs a target/);
    expect(() => probeSpec(undefined, parseArgs(probe, "--logs --new").flags)).toThrow(/--new applies to --messages and --procs/);
  });
  it("--summary takes how many calls a second per function may feed its sketch; --sample-rate alone or out of range is refused", () => {
    const spec = (t: string) => probeSpec("lists:seq/2", parseArgs(probe, `lists:seq/2 ${t}`).flags).spec;
    expect(spec("--summary --sample-rate 200")).toMatchObject({ summary: { every_ms: 1000, alpha: 0.01, sample_rate: 200 } });
    expect((spec("--summary") as { summary: object }).summary).toEqual({ every_ms: 1000, alpha: 0.01 });
    expect(() => spec("--sample-rate 200")).toThrow(/--sample-rate goes with --summary/);
    expect(() => spec("--summary --sample-rate 5")).toThrow(/--sample-rate takes 10 to 1000000 calls a second per function/);
  });
  it("applies the budgets given", () => {
    expect(probeSpec("lists:seq/2", parseArgs(probe, "lists:seq/2 --limit 100 --for 2s --rate 50/s").flags).spec).toMatchObject({ limit: 100, time_ms: 2000, rate: 50 });
  });
  it("refuses flags that do not apply to a kind", () => {
    expect(() => probeSpec(undefined, parseArgs(probe, "--messages=Shop.Orders --args").flags)).toThrow(/--args only applies to call probes/);
  });
});

describe("durations and rates", () => {
  it("reads ms, s, m", () => {
    expect([parseDuration("250ms"), parseDuration("10s"), parseDuration("2m"), parseDuration("1.5s")]).toEqual([250, 10_000, 120_000, 1500]);
    expect(parseRate("500/s")).toBe(500);
  });
  it("says what was wrong", () => {
    expect(() => parseDuration("soon", "--for")).toThrow(/--for/);
  });
});

describe("help", () => {
  it("shows the usage line and every flag with its help", () => {
    expect(usage(probe)).toMatch(/^%probe \[MFA\] \[--match PATTERN\]/);
    const text = helpText(probe);
    for (const f of probe.flags ?? []) expect(text).toContain(`--${f.name}`);
  });
});

describe("magics inside TypeScript", () => {
  it("finds a line magic and its arguments", () => {
    expect(parseMagicLine("%probe lists:seq/2 --as s")).toEqual({ name: "probe", help: false, argText: "lists:seq/2 --as s" });
    expect(parseMagicLine("%probe?")).toMatchObject({ name: "probe", help: true });
  });
  it("rewrites `x = %magic` and statement magics into awaited calls, leaving code alone", () => {
    const out = rewriteMagics("const t = %events p1 --wait\nconst n = t.numRows()\n%disarm p1");
    expect(out).toMatch(/const t = await __lumin_magic__\("events", "p1 --wait"/);
    expect(out).toContain("const n = t.numRows()");
    expect(out).toMatch(/await __lumin_magic__\("disarm", "p1"/);
  });
  it("does not touch a % inside a string or an expression", () => {
    const src = 'const s = "50 %probe"\nconst r = 7 % 3';
    expect(rewriteMagics(src)).toBe(src);
  });
});

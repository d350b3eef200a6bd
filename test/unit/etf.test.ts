/**
 * The term codec against the real thing: generated Erlang terms are turned into bytes by
 * `erlang:term_to_binary/1` in a real `erl`, decoded here and compared with the model the generator built;
 * then encoded here and read back by `erlang:binary_to_term/1`, which must give a term `=:=` the original.
 * One `erl` run per direction keeps it fast.
 */
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Atom, BitBinary, ErlFloat, ErlMap, Fun, List, NIL, Pid, Port, Ref, Tuple, decode, encode, encodedSize, type ErlTerm } from "../../kernel/beam/etf";

/** A generated term: its Erlang source and the value the decoder must produce (null: check the type only). */
interface Gen {
  src: string;
  model: unknown;
}

const erlAtom = (name: string) => `'${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
/** An Erlang float literal that reads back as exactly `f` (shortest round-trip digits, mantissa with a dot). */
const floatSrc = (f: number) => {
  const [m, e] = f.toExponential().split("e");
  return `${m.includes(".") ? m : `${m}.0`}e${e}`;
};
const bytesSrc = (b: number[]) => `<<${b.join(",")}>>`;

const leaf: fc.Arbitrary<Gen> = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((i) => ({ src: `${i}`, model: { int: String(i) } })),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map((i) => ({ src: `${i}`, model: { int: String(i) } })),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((f) => !Object.is(f, -0)).map((f) => ({ src: floatSrc(f), model: { float: f } })),
  fc.oneof(fc.constantFrom("ok", "error", "nil", "true", "Elixir.Shop.Orders", "with space", "it's", "ünïcødé", "日本"), fc.stringMatching(/^[a-z][a-zA-Z0-9_@]{0,20}$/)).map((a) => ({ src: erlAtom(a), model: { atom: a } })),
  fc.uint8Array({ maxLength: 40 }).map((b) => ({ src: bytesSrc([...b]), model: { bin: [...b] } })),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 7 })).map(([b, bits]) => ({
    src: `<<${[...b].slice(0, -1).join(",")}${b.length > 1 ? "," : ""}${b[b.length - 1] >> (8 - bits)}:${bits}>>`,
    model: { bits: { bytes: [...b.slice(0, -1), (b[b.length - 1] >> (8 - bits)) << (8 - bits)], last: bits } },
  })),
  fc.string({ maxLength: 20, unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)) }).map((s) => ({ src: JSON.stringify(s).replace(/\\"/g, '\\"'), model: { list: [...s].map((c) => ({ int: String(c.charCodeAt(0)) })), tail: null } })),
  fc.constant({ src: "self()", model: { type: "pid" } }),
  fc.constant({ src: "make_ref()", model: { type: "ref" } }),
  fc.constant({ src: "hd(erlang:ports())", model: { type: "port" } }),
  fc.constant({ src: "fun lists:map/2", model: { fun: "lists:map/2" } }),
  fc.constant({ src: "fun(X) -> X end", model: { type: "fun" } }),
);

const term: fc.Arbitrary<Gen> = fc.letrec<{ t: Gen }>((tie) => ({
  t: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("t"), { maxLength: 5 }).map((es) => ({ src: `{${es.map((e) => e.src).join(",")}}`, model: { tuple: es.map((e) => e.model) } })),
    fc.array(tie("t"), { maxLength: 5 }).map((es) => ({ src: `[${es.map((e) => e.src).join(",")}]`, model: { list: es.map((e) => e.model), tail: null } })),
    fc.tuple(fc.array(tie("t"), { minLength: 1, maxLength: 4 }), leaf.filter((g) => !("list" in (g.model as object)))).map(([es, tail]) => ({
      src: `[${es.map((e) => e.src).join(",")}|${tail.src}]`,
      model: { list: es.map((e) => e.model), tail: tail.model },
    })),
    fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 1000 }), tie("t")), { maxLength: 5, selector: ([k]) => k }).map((kvs) => ({
      src: `#{${kvs.map(([k, v]) => `${k} => ${v.src}`).join(",")}}`,
      model: { map: kvs.map(([k, v]) => [{ int: String(k) }, v.model]).sort((a, b) => Number((a[0] as { int: string }).int) - Number((b[0] as { int: string }).int)) },
    })),
  ),
})).t;

/** What a decoded term looks like in the model's vocabulary. */
function canon(t: ErlTerm): unknown {
  if (typeof t === "number" || typeof t === "bigint") return { int: String(t) };
  if (t instanceof ErlFloat) return { float: t.value };
  if (t instanceof Atom) return { atom: t.name };
  if (t instanceof Uint8Array) return { bin: [...t] };
  if (t instanceof BitBinary) return { bits: { bytes: [...t.bytes], last: t.bitsInLastByte } };
  if (t instanceof Tuple) return { tuple: t.elements.map(canon) };
  if (t instanceof List) return { list: t.elements.map(canon), tail: t.tail === NIL ? null : canon(t.tail) };
  if (t instanceof ErlMap) return { map: t.entries.map(([k, v]) => [canon(k), canon(v)]).sort((a, b) => Number((a[0] as { int: string }).int) - Number((b[0] as { int: string }).int)) };
  if (t instanceof Pid) return { type: "pid" };
  if (t instanceof Ref) return { type: "ref" };
  if (t instanceof Port) return { type: "port" };
  if (t instanceof Fun) return t.exported ? { fun: `${t.module}:${t.name}/${t.arity}` } : { type: "fun" };
  throw new Error(`unknown decoded value ${String(t)}`);
}

/** Run an Erlang script in a fresh `erl`, returning what it printed. */
function erl(script: string): string {
  return execFileSync("erl", ["-noshell", "-eval", `${script}, halt().`], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
}

describe("the term codec against erlang:term_to_binary", () => {
  const samples = fc.sample(term, { numRuns: 300, seed: 42 });
  // One erl: every term's bytes in base64, one per line. Also the same terms compressed.
  const out = erl(`lists:foreach(fun(T) -> io:format("~s ~s~n", [base64:encode(term_to_binary(T)), base64:encode(term_to_binary(T, [{compressed, 9}]))]) end, [${samples.map((s) => s.src).join(",\n")}])`);
  const lines = out.trim().split("\n");

  it("decodes what term_to_binary produces, for every kind of term", () => {
    expect(lines).toHaveLength(samples.length);
    samples.forEach((s, i) => {
      const [plain, compressed] = lines[i].split(" ");
      expect(canon(decode(Buffer.from(plain, "base64"))), s.src).toEqual(s.model);
      expect(canon(decode(Buffer.from(compressed, "base64"))), s.src).toEqual(s.model);
    });
  });

  it("encodes terms that binary_to_term reads back as the same term", () => {
    // Local funs cannot be rebuilt from the model (they are opaque on purpose); everything else must round-trip.
    const roundTrippable = samples.map((s, i) => ({ s, i })).filter(({ s }) => !s.src.includes("fun(X)"));
    const encoded = roundTrippable.map(({ i }) => encode(decode(Buffer.from(lines[i].split(" ")[0], "base64"))).toString("base64"));
    // Compared with what the first run produced (not re-evaluated: self() and make_ref() differ per run).
    const originals = roundTrippable.map(({ i }) => lines[i].split(" ")[0]);
    const checks = erl(
      `Os = [${originals.map((b) => `"${b}"`).join(",\n")}], Bs = [${encoded.map((b) => `"${b}"`).join(",\n")}], ` +
        `io:format("~p", [[binary_to_term(base64:decode(O)) =:= binary_to_term(base64:decode(B)) || {O, B} <- lists:zip(Os, Bs)]])`,
    ).replace(/\s/g, "");
    expect(checks).toBe(`[${roundTrippable.map(() => "true").join(",")}]`);
  });

  it("encodedSize is the length encode gives, for every kind of term and for plain JavaScript values", () => {
    const decoded = samples.map((s, i) => ({ s, t: decode(Buffer.from(lines[i].split(" ")[0], "base64")) })).filter(({ s }) => !s.src.includes("fun(X)"));
    for (const { s, t } of decoded) expect(encodedSize(t), s.src).toBe(encode(t).length);
    const plain = { name: "zäh ✓", n: 1, big: 2 ** 40, ratio: 0.5, ok: true, none: null, items: [1, "two", new Uint8Array(3)], [`k${"é".repeat(200)}`]: 1 };
    expect(encodedSize(plain)).toBe(encode(plain).length);
  });

  it("encodes plain JavaScript values the way the bridge expects", () => {
    const checks = erl(
      `B = base64:decode("${encode({ name: "x", n: 1, ratio: 0.5, ok: true, none: null, items: [1, "two"] }).toString("base64")}"), ` +
        `io:format("~p", [binary_to_term(B) =:= #{name => <<"x">>, n => 1, ratio => 0.5, ok => true, none => nil, items => [1, <<"two">>]}])`,
    );
    expect(checks.trim()).toBe("true");
  });
});

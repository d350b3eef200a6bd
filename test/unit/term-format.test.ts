/**
 * Terms shown as the node's own language shows them: our formatting of decoded terms against Elixir's
 * `inspect/1` and Erlang's `~0p`, both run for real on the same terms.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decode } from "../../kernel/beam/etf";
import { formatTerm } from "../../kernel/beam/termFormat";

/** Each line: base64 of term_to_binary, a tab, the language's own text. */
function viaNode(cmd: string, args: string[]): { bytes: Uint8Array; text: string }[] {
  return execFileSync(cmd, args, { encoding: "utf8", timeout: 60_000 })
    .trim()
    .split("\n")
    .map((line) => {
      const [b64, text] = line.split("\t");
      return { bytes: Buffer.from(b64, "base64"), text: Buffer.from(text, "base64").toString("utf8") };
    });
}

describe("Elixir syntax", () => {
  const terms = [
    "42", "-7", "123456789012345678901234567890", "1.5", "1.0e100", ":ok", ":\"with space\"", "nil", "true", "Shop.Orders",
    '"hello"', '"multi\\nline \\"quoted\\""', "<<1, 2, 3>>", "{:ok, 1}", "{}", "[1, 2, 3]", "[]", "[a: 1, b: :two]",
    "[1 | 2]", "%{a: 1}", '%{"k" => [1]}', "%{1 => :x}", "%RuntimeError{message: \"boom\"}", "{:error, {:nested, [1, {2}]}}",
    "<<1::size(3)>>", "&Enum.map/2",
    // Lists of integers stay lists unless all ASCII-printable; strings are valid UTF-8 of printable characters.
    "[259403]", "[233]", "[127]", "[7, 8, 9, 10, 11, 12, 13, 27, 65]", '"a\\x7Fb\\e\\a\\v\\f\\b"', "<<233>>", '"日本\\u0085x"', '"日本"', '""', '"x \\#{1}"',
  ];
  const rows = viaNode("elixir", [
    "-e",
    `for t <- [${terms.join(", ")}], do: IO.puts(Base.encode64(:erlang.term_to_binary(t)) <> "\\t" <> Base.encode64(inspect(t, limit: :infinity, printable_limit: :infinity)))`,
  ]);

  it("matches inspect/1 for every kind of term", () => {
    expect(rows).toHaveLength(terms.length);
    // A printable charlist is ~c"…" from Elixir 1.15 on ('…' before); the kernel writes today's form.
    const modern = (text: string) => text.replace(/^'(.*)'$/, '~c"$1"');
    for (const [i, { bytes, text }] of rows.entries()) expect(formatTerm(decode(bytes), "elixir"), terms[i]).toBe(modern(text));
  });
});

describe("Erlang syntax", () => {
  const terms = [
    "42", "-7", "123456789012345678901234567890", "1.5", "ok", "'with space'", "'Elixir.Shop.Orders'", "<<\"hello\">>",
    "<<1,2,3>>", "{ok,1}", "[1,2,3]", "[]", "\"abc\"", "[1|2]", "#{a => 1}", "#{<<\"k\">> => [1]}", "{error,{nested,[1,{2}]}}",
    "<<1:3>>", "fun lists:map/2",
    // io_lib's printable range (latin1 by default): [259403] is a list, [233] a string; binaries as UTF-8 or bytes.
    "[259403]", "[233]", "[127]", "[7,65]", "[8,9,10,11,12,13,27,65]", '"say \\"hi\\" \\\\ x"', '<<"é"/utf8>>', '<<"日本"/utf8>>', "<<233>>", "<<>>",
  ];
  const rows = viaNode("erl", [
    "-noshell", "-eval",
    `[io:format("~s\\t~s~n", [base64:encode(term_to_binary(T)), base64:encode(unicode:characters_to_binary(io_lib:format("~0tp", [T])))]) || T <- [${terms.join(", ")}]], halt().`,
  ]);

  it("matches ~0p for every kind of term", () => {
    expect(rows).toHaveLength(terms.length);
    for (const [i, { bytes, text }] of rows.entries()) expect(formatTerm(decode(bytes), "erlang"), terms[i]).toBe(text);
  });
});

describe("a term cut on the node", () => {
  // The agent's own cut (lumin_lib:cut/2) of a big state and of a long binary.
  const ebin = path.join(__dirname, "..", "..", "elixir_agent", "_build", "prod", "lib", "elixir_agent", "ebin");
  const [state, text] = viaNode("erl", [
    "-noshell", "-pa", ebin, "-eval",
    `[io:format("~s\\t-~n", [base64:encode(term_to_binary(lumin_lib:cut(T, Max)))]) || {T, Max} <- [{{state, lists:seq(1, 5000), <<"abc", 0:80000>>}, 256}, {binary:copy(<<"hello ">>, 1000), 64}]], halt().`,
  ]);

  it("shows its start and how many bytes were left out, not the internal marker", () => {
    expect(formatTerm(decode(state.bytes), "elixir")).toMatch(/^\{:state, \[1, 2, 3, 4, 5, \.\.\.\], <<97, 98, 99, 0, [\d, ]+>>\}…\(4,096 bytes cut\)$/);
    expect(formatTerm(decode(state.bytes), "erlang")).toMatch(/^\{state,\[1,2,3,4,5,\.\.\.\],<<97,98,99,0,[\d,]+>>\}…\(4,096 bytes cut\)$/);
    expect(formatTerm(decode(text.bytes), "elixir")).toBe(`"${"hello ".repeat(5)}he"…(6,006 bytes cut)`);
    expect(formatTerm(decode(text.bytes), "erlang")).toBe(`<<"${"hello ".repeat(5)}he">>…(6,006 bytes cut)`);
    expect(formatTerm(decode(state.bytes), "elixir")).not.toContain("lumin_cut");
  });
});

describe("bounds", () => {
  it("cuts long lists, binaries and deep nesting with ...", () => {
    const long = Buffer.from(execFileSync("erl", ["-noshell", "-eval", 'io:format("~s", [base64:encode(term_to_binary({lists:seq(1, 100), binary:copy(<<"x">>, 5000)}))]), halt().'], { encoding: "utf8" }), "base64");
    const text = formatTerm(decode(long), "elixir", { items: 5, chars: 20, depth: 12 });
    expect(text).toBe(`{[1, 2, 3, 4, 5, ...], "${"x".repeat(20)}..."}`);
  });
});

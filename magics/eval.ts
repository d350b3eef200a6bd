/**
 * %%elixir / %%erlang (and their one-line forms): run code on the attached node. The result is shown in the
 * language's own syntax (the node's inspect / ~p) and bound as a plain TypeScript value:
 * `const n = %elixir length(Process.list())`.
 */
import { defineMagic, type Magic } from "../kernel/magics/declaration";
import { beam, NODE_FLAG } from "./beamContext";
import { toJs } from "../kernel/beam/term";

function evalMagic(language: "elixir" | "erlang"): Magic {
  const example = language === "elixir" ? "Enum.sum(1..10)" : "lists:sum(lists:seq(1, 10)).";
  return defineMagic({
    name: language,
    kind: "both",
    summary: `Evaluate ${language === "elixir" ? "Elixir" : "Erlang"} on the attached node${language === "erlang" ? " (works on every node)" : ""}.`,
    details: `Variables bound in one cell stay bound for the next ones on the same node.

Examples:
  %%${language}
  ${example}

  const x = %${language} ${example}`,
    positionals: [{ name: "CODE", help: "code to evaluate (line form), taken as written", rest: true, raw: true, optional: true }],
    flags: [NODE_FLAG],
    showsResult: false,
    async run(call, ctx) {
      const session = beam(ctx);
      const node = session.node(call.args.flags.node);
      // The line form's code is taken as written (quotes and all), after an optional leading --node flag.
      const code = call.kind === "cell" ? (call.body ?? "") : call.argText.replace(/^\s*--node(?:=|\s+)\S+\s*/, "");
      const { value, text } = await session.eval(node.node, language, code);
      ctx.io.displayBundle({ "text/plain": text });
      return toJs(value);
    },
  });
}

export const elixir = evalMagic("elixir");
export const erlang = evalMagic("erlang");

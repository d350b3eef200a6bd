/**
 * %%elixir / %%erlang (and their one-line forms): run code on the attached node. The result is shown in the
 * language's own syntax (the node's inspect / ~p) and bound as a plain TypeScript value:
 * `const n = %elixir length(Process.list())`. What the code prints streams into the cell; an interrupt or
 * the timeout kills the evaluation on the node.
 */
import { defineMagic, type Magic } from "../kernel/magics/declaration";
import { NODE_FLAG } from "../kernel/magics/nodeFlag";
import { toJs } from "../kernel/beam/term";

function evalMagic(language: "elixir" | "erlang"): Magic {
  const example = language === "elixir" ? "Enum.sum(1..10)" : "lists:sum(lists:seq(1, 10)).";
  return defineMagic({
    name: language,
    kind: "both",
    summary: `Evaluate ${language === "elixir" ? "Elixir" : "Erlang"} on the attached node${language === "erlang" ? " (works on every node)" : ""}.`,
    details: `Variables bound in one cell stay bound for the next ones on the same node: they live on the node, and a
cell receives only those its code names. What the code prints (${language === "elixir" ? "IO.puts" : "io:format"}) shows in the cell, up to 100 kB.
An interrupt, or --timeout (default 120s), kills the evaluation on the node. A cell's code is at most 4 MB.

Examples:
  %%${language}
  ${example}

  const x = %${language} ${example}`,
    positionals: [{ name: "CODE", help: "code to evaluate (line form), taken as written", rest: true, raw: true, optional: true }],
    flags: [NODE_FLAG, { name: "timeout", takes: "value", type: "duration", default: "120s", valueName: "DURATION", help: "stop the evaluation after this long" }],
    showsResult: false,
    async run(call, ctx) {
      const session = ctx.beam;
      const { flags } = call.args;
      const node = session.node(flags.node);
      // The line form's code is taken as written (quotes and all), after optional leading --node/--timeout flags.
      const code = call.kind === "cell" ? (call.body ?? "") : call.argText.replace(/^(\s*--(?:node|timeout)(?:=|\s+)\S+)*\s*/, "");
      const { value, text, outputCut } = await session.eval(node.node, language, code, {
        timeoutMs: flags.timeout,
        signal: ctx.signal,
        onOutput: (t) => ctx.io.stream("stdout", t),
      });
      if (outputCut > 0) ctx.io.stream("stderr", `(output cut: ${outputCut.toLocaleString("en")} more bytes were printed on the node)\n`);
      ctx.io.displayBundle({ "text/plain": text });
      return toJs(value);
    },
  });
}

export const elixir = evalMagic("elixir");
export const erlang = evalMagic("erlang");

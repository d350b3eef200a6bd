/** %time / %%time: how long a statement or a cell took, wall clock, like IPython's. */
import { defineMagic } from "../kernel/magics/declaration";

export function formatDuration(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export const time = defineMagic({
  name: "time",
  kind: "both",
  summary: "Run a statement (%time) or the cell (%%time) and print its wall time.",
  details: "The code may be TypeScript or magics. Its value is the cell's result, so `const x = %time f()` binds f()'s value.",
  // Raw: the statement's words are its own, so `%time %top -n 3` gives -n to %top, not to %time.
  positionals: [{ name: "statement", help: "the TypeScript or magic to time (line form), taken as written", rest: true, raw: true, optional: true }],
  showsResult: true,
  async run(call, ctx) {
    const code = call.kind === "cell" ? (call.body ?? "") : call.argText;
    const started = performance.now();
    try {
      return await ctx.run(code);
    } finally {
      ctx.io.stream("stdout", `Wall time: ${formatDuration(performance.now() - started)}\n`);
    }
  },
});

/** %%html, %%markdown, %%svg: show the cell's body with that MIME type. */
import { defineMagic, MagicUsageError, type Magic } from "../kernel/magics/declaration";

function displayAs(name: string, mime: string, summary: string, check?: (body: string) => void): Magic {
  return defineMagic({
    name,
    kind: "cell",
    summary,
    showsResult: false,
    async run(call, { io }) {
      const body = call.body ?? "";
      check?.(body);
      io.displayBundle({ [mime]: body, "text/plain": body });
    },
  });
}

export const html = displayAs("html", "text/html", "Show the cell as HTML.");
export const markdown = displayAs("markdown", "text/markdown", "Show the cell as Markdown.");
export const svg = displayAs("svg", "image/svg+xml", "Show the cell as an SVG image.", (body) => {
  if (!/<svg[\s>]/i.test(body)) throw new MagicUsageError("%%svg: the cell does not contain an <svg> element; put the SVG markup below %%svg.");
});

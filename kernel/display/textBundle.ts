/**
 * Text that should wrap between words, not inside them: text/plain, plus a text/html twin for classic
 * Notebook, whose stylesheet makes every text/plain output `word-break: break-all` (status lines and
 * listings broken mid-word). The HTML keeps the text's spaces and line breaks and wraps at spaces; where a
 * frontend strips its style (an untrusted classic notebook), it is still a plain block that wraps at spaces.
 */
import type { MimeBundle } from "../evaluation/cellIO";

export const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const STYLE = "font-family:monospace;white-space:pre-wrap;word-break:normal;overflow-wrap:normal;margin:0";

export function wrappingText(text: string): MimeBundle {
  const lines = text.split("\n").map((l) => `<div class="elixirlumin-text" style="${STYLE}">${escapeHtml(l) || "&nbsp;"}</div>`);
  return { "text/plain": text, "text/html": lines.join("") };
}

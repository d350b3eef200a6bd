/**
 * Counting what a rendered chart drew: vega's SVG puts each mark in a group `<g class="mark-TYPE role-mark
 * NAME">` whose children are the items (paths for rects and symbols, lines for rules, text elements);
 * an empty mark is a self-closing group.
 * Used by the tests, and handy for checking a chart without looking at it.
 */

/** Items drawn per mark group: `{ "rect spans_marks": 2000, "rule arrows_marks": 12, … }`, summed over facets. */
export function markItems(svg: string): Record<string, number> {
  const out: Record<string, number> = {};
  const open = /<g class="mark-([a-z]+) role-mark([^"]*)"[^>]*?(\/?)>/g;
  for (let m; (m = open.exec(svg)); ) {
    const [type, rest, empty] = [m[1], m[2].trim(), m[3] === "/"];
    if (type === "group") continue;
    const end = svg.indexOf("</g>", open.lastIndex);
    const body = empty ? "" : svg.slice(open.lastIndex, end < 0 ? undefined : end);
    const items = (body.match(/<(path|line|text|rect|circle|image)\b/g) ?? []).length;
    const key = rest ? `${type} ${rest}` : type;
    out[key] = (out[key] ?? 0) + items;
  }
  return out;
}

/** Items of one mark type, optionally only in groups whose name contains `name`. */
export function countMarks(svg: string, type: string, name?: string): number {
  let n = 0;
  for (const [key, count] of Object.entries(markItems(svg))) {
    const [t, ...rest] = key.split(" ");
    if (t === type && (name === undefined || rest.join(" ").includes(name))) n += count;
  }
  return n;
}

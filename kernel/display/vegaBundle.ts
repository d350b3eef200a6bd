/**
 * A Vega-Lite spec as application/vnd.vegalite.v5+json (JupyterLab renders it natively and interactively),
 * image/svg+xml rendered here with vega (every other frontend, nbconvert, GitHub), and text/plain.
 */
import type { MimeBundle } from "../evaluation/cellIO";

export type VegaLiteSpec = Record<string, unknown> & { $schema?: string };

export function isVegaLiteSpec(value: unknown): value is VegaLiteSpec {
  const s = (value as VegaLiteSpec)?.$schema;
  return typeof value === "object" && value !== null && typeof s === "string" && s.includes("vega-lite");
}

/** vega and vega-lite are ES modules with top-level await: loaded once, on first use, never at start-up. */
interface VegaLibs {
  vl: { compile(spec: unknown): { spec: unknown } };
  vega: {
    parse(spec: unknown): unknown;
    View: new (runtime: unknown, options: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
  };
}
let libs: Promise<VegaLibs> | undefined;
function load() {
  libs ??= Promise.all([import("vega-lite"), import("vega")]).then(([vl, vega]) => ({ vl, vega }) as unknown as VegaLibs);
  return libs;
}

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { vl, vega } = await load();
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function vegaBundle(spec: VegaLiteSpec): Promise<MimeBundle> {
  const title = typeof spec.title === "string" ? spec.title : (spec.title as { text?: string } | undefined)?.text;
  return {
    "application/vnd.vegalite.v5+json": spec,
    "image/svg+xml": await renderSvg(spec),
    "text/plain": `<Vega-Lite chart${title ? `: ${title}` : ""}>`,
  };
}

/**
 * A Vega-Lite spec as application/vnd.vegalite.v5+json (JupyterLab, VS Code and nteract render it natively and
 * interactively), image/png rendered here (every other viewer: static nbconvert HTML, classic Notebook with an
 * untrusted notebook, GitHub), and text/plain.
 *
 * The picture is a PNG, not an SVG, on purpose: nbconvert ranks image/svg+xml above image/png and its HTML
 * export passes inline SVG through a sanitizer that strips every child element (blank boxes), and classic
 * Notebook refuses SVG from untrusted notebooks. So the SVG that vega draws here is only the PNG's source
 * (and what tests count marks in, through `renderSvg`); it is not sent. The PNG is drawn by resvg at up to
 * twice the chart's size (less for a big chart, see PICTURE.maxArea), and its output metadata gives the size
 * to show it at, so it is sharp on high-density screens and no wider than a notebook's output area.
 */
import { existsSync } from "node:fs";
import type { MimeBundle } from "../evaluation/cellIO";
import { setBundleMetadata } from "./bundleMetadata";
import { encodePremultipliedPng } from "./pngEncode";
import { cachedPicture, type PictureStore } from "./pictureCache";

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

/** How a chart's picture is sized. */
export const PICTURE = {
  /** Widest a picture is shown, in CSS pixels: a notebook's output area (classic Notebook's is ~900 px). */
  maxWidth: 860,
  /** Pixels per CSS pixel in the PNG (2: sharp on high-density screens). */
  density: 2,
  /**
   * Most pixels in the PNG: a big chart (a tall facet of every function) is drawn at less than twice its size,
   * down to once, so its picture costs about as much as a small chart's (rasterising and PNG-encoding grow with
   * the pixels) and the notebook stays small.
   */
  maxArea: 1_200_000,
} as const;

export interface Picture {
  /** (Typed as the standard library's Uint8Array, not Node's Buffer: the cell scope's types stay Node-free.) */
  png: Uint8Array;
  /** The size to show the PNG at, in CSS pixels. */
  width: number;
  height: number;
}

type Resvg = typeof import("@resvg/resvg-js");

/**
 * The charts' "sans-serif", first found: Liberation Sans (Debian's fonts-liberation, which scripts/setup.js
 * installs; Arial's metrics, so labels sit as in a browser), else DejaVu Sans. Two files are loaded, not every
 * font on the machine. Liberation first also for speed: resvg shapes each label with the font's tables, and
 * DejaVu's are large — the 1M-row latency chart's 69 labels take 36 ms in DejaVu, 11 ms in Liberation.
 */
const FONTS = [
  { family: "Liberation Sans", files: ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"] },
  { family: "DejaVu Sans", files: ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"] },
];
let fontOptions: { loadSystemFonts: boolean; fontFiles?: string[]; defaultFontFamily: string; sansSerifFamily: string } | undefined;
function fonts() {
  if (!fontOptions) {
    const found = FONTS.find((f) => f.files.every((file) => existsSync(file)));
    fontOptions = found
      ? { loadSystemFonts: false, fontFiles: found.files, defaultFontFamily: found.family, sansSerifFamily: found.family }
      : { loadSystemFonts: true, defaultFontFamily: FONTS[0].family, sansSerifFamily: FONTS[0].family };
  }
  return fontOptions;
}
let resvg: Resvg | undefined;

/** The chart's SVG drawn as a PNG by resvg, off the main thread. */
export async function renderPng(svg: string): Promise<Picture> {
  resvg ??= require("@resvg/resvg-js") as Resvg;
  const size = /<svg[^>]*?\bwidth="([\d.]+)"[^>]*?\bheight="([\d.]+)"/.exec(svg);
  const [w, h] = size ? [Number(size[1]), Number(size[2])] : [PICTURE.maxWidth, 400];
  const shown = Math.min(1, PICTURE.maxWidth / w);
  const zoom = Math.max(shown, Math.min(PICTURE.density * shown, Math.sqrt(PICTURE.maxArea / (w * h))));
  const image = await resvg.renderAsync(svg, {
    fitTo: { mode: "zoom", value: zoom },
    font: fonts(),
    logLevel: "off",
  });
  return { png: encodePremultipliedPng(image.width, image.height, image.pixels), width: Math.round(w * shown), height: Math.round(h * shown) };
}

/** `pictures`: where pictures already drawn are kept (a recording's), so this spec's is reused, not drawn again. */
export async function vegaBundle(spec: VegaLiteSpec, pictures?: PictureStore): Promise<MimeBundle> {
  const title = typeof spec.title === "string" ? spec.title : (spec.title as { text?: string } | undefined)?.text;
  const picture = await cachedPicture(spec, PICTURE, pictures, async () => renderPng(await renderSvg(spec)));
  const bundle: MimeBundle = {
    "application/vnd.vegalite.v5+json": spec,
    "image/png": Buffer.from(picture.png.buffer, picture.png.byteOffset, picture.png.byteLength).toString("base64"),
    "text/plain": `<Vega-Lite chart${title ? `: ${title}` : ""}>`,
  };
  return setBundleMetadata(bundle, { "image/png": { width: picture.width, height: picture.height } });
}

/**
 * The look every chart shares, readable on light and dark notebook themes alike: mid-grey text, axes and
 * grid on a transparent background, and the Okabe–Ito categorical palette (distinguishable with the
 * common colour-vision deficiencies). Every view starts from `baseSpec`.
 */
import type { VegaLiteSpec } from "../display/vegaBundle";

export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** Mid-grey: legible on white and on the dark themes' near-black. */
export const GREY = "#888888";

/** Okabe–Ito, ordered so the first colours are the most distinct; yellow last (weak on white). */
export const CATEGORY = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999", "#F0E442"];

/** For marks that flag trouble (errors, restarts, exceptions). */
export const ALERT = "#D55E00";

export const themeConfig = {
  background: "transparent",
  font: "sans-serif",
  view: { stroke: null },
  title: { color: GREY, subtitleColor: GREY, anchor: "start", fontSize: 14, subtitleFontSize: 11 },
  axis: {
    domainColor: GREY,
    tickColor: GREY,
    gridColor: GREY,
    gridOpacity: 0.25,
    labelColor: GREY,
    titleColor: GREY,
    titleFontWeight: "normal",
  },
  legend: { labelColor: GREY, titleColor: GREY, titleFontWeight: "normal" },
  header: { labelColor: GREY, titleColor: GREY },
  range: { category: CATEGORY },
  text: { color: GREY },
  rule: { color: GREY },
} as const;

/** A chart's spec: Vega-Lite v5 with a title (and subtitle lines). */
export type ChartSpec = VegaLiteSpec & { $schema: string; title: { text: string; subtitle?: string[] } };

/** The common top of every spec: schema, title, optional subtitle lines, transparent background, theme. */
export function baseSpec(title: string, subtitle: (string | undefined | null | false)[] = []): ChartSpec {
  const lines = subtitle.filter((s): s is string => typeof s === "string" && s.length > 0);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: lines.length ? { text: title, subtitle: lines } : { text: title },
    background: "transparent",
    config: themeConfig,
  };
}

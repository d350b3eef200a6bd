/**
 * Keeping charts small: every view embeds its data in the spec, so it aggregates or samples first and
 * embeds at most MAX_VALUES data values. These helpers pick which rows to keep (the largest, or evenly
 * spaced ones), say so in a subtitle line, and turn cell values (terms, NaN) into plain JSON.
 */
import { topPositions } from "../analysis/stats";

export { topPositions };

/** The most data values one chart embeds. */
export const MAX_VALUES = 5000;

/** `k` positions spread evenly over 0…n-1, first and last included (all of them when n ≤ k). */
export function evenPositions(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  if (k <= 0) return [];
  if (k === 1) return [0];
  return Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / (k - 1)));
}

/** "showing the 2,000 longest of 1,000,000 calls" when rows were left out, else undefined. */
export function keptNote(shown: number, total: number, noun: string, which: string): string | undefined {
  if (shown >= total) return undefined;
  return `showing ${which.replace("{n}", shown.toLocaleString("en"))} of ${total.toLocaleString("en")} ${noun}`;
}

/** A cell value as plain JSON: terms and other objects as text, NaN and ±Infinity as null. */
export function plain(v: unknown): string | number | boolean | null {
  if (v == null) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return Number(v);
  return String(v);
}

/** Text cut to `max` characters with an ellipsis. */
export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, Math.max(0, max - 1))}…` : s;
}

/** Rounds to 3 decimals: keeps embedded numbers short. */
export const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/** The number of inline data values a spec embeds, across all its (nested) `data.values` and datasets. */
export function countDataValues(spec: unknown): number {
  let n = 0;
  // Inline data is `data: { values: [...] }` (an axis's `values` are ticks, not data).
  const walk = (x: unknown, key?: string): void => {
    if (Array.isArray(x)) {
      if (key === "values") n += x.length;
      else x.forEach((y) => walk(y));
    } else if (x && typeof x === "object" && key === "axis") {
      return;
    } else if (x && typeof x === "object") {
      for (const [k, v] of Object.entries(x)) {
        if (k === "datasets" && v && typeof v === "object") for (const d of Object.values(v)) n += Array.isArray(d) ? d.length : 0;
        else walk(v, k);
      }
    }
  };
  walk(spec);
  return n;
}

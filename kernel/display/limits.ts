/** How large an output may be. One place, so every output path cuts the same way. */
export const LIMITS = {
  /** Largest text entry (text/plain, text/html, image/svg+xml…) in one MIME bundle, in characters. */
  maxEntryChars: 1_000_000,
  /** Stream text per cell, in characters; past it the stream says how much was cut. */
  maxStreamChars: 1_000_000,
  /** Rows of a table shown in a display. */
  tableRows: 20,
  /** Rows embedded in the data-resource bundle of a table. */
  dataResourceRows: 200,
} as const;

/** Cut `text` to `max` characters with a visible note saying how much was left out. */
export function cut(text: string, max: number = LIMITS.maxEntryChars): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n… output cut: ${(text.length - max).toLocaleString("en")} more characters not shown`;
}

/** Plain-text rendering of any value, the way a REPL shows it — never with ANSI colour codes. */
import { inspect } from "node:util";

export const TERM_MARK = Symbol.for("elixirlumin.term");

export function isTerm(value: unknown): boolean {
  return typeof value === "object" && value !== null && TERM_MARK in value;
}

export function plainText(value: unknown): string {
  if (isTerm(value)) return String(value);
  return inspect(value, { colors: false, depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });
}

/** A cell value inside a table: strings bare, terms formatted, the rest as a REPL shows them. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  return plainText(value).replace(/\s*\n\s*/g, " ");
}

/**
 * What the quick converter (converters.ts) declares in place of the few global names of Node's that cells and
 * the cell scope use most, so that they stay on it:
 *   - the types the cell scope's declarations name: Arquero's loaders take a `ReadableStream` or `RequestInit`,
 *     which come with Node's types (as the web's). Without a declaration they would be error types, which
 *     accept anything, and a cell passing the wrong thing would compile there but not on the full converter.
 *     Each is declared as a type no value has but one typed with that very name (or `any`);
 *   - `console`, with the methods a cell most often calls, each with its very signature in Node's types.
 * Never looser than Node's, so a cell that compiles here compiles the same there; a cell that uses one for real
 * (`new ReadableStream()`, `console.dir`) gets a diagnostic and goes to the full converter. The unit test
 * cell-scope-types keeps the first list whole and the console's signatures equal to Node's.
 */
export const QUICK_GLOBALS_FILE = "/__elixirlumin__/quick-globals.d.ts";

/** Node's `console` methods a cell most often calls, with their signatures as @types/node declares them. */
export const QUICK_CONSOLE_METHODS: Readonly<Record<string, string>> = {
  log: "(message?: any, ...optionalParams: any[]): void",
  error: "(message?: any, ...optionalParams: any[]): void",
  warn: "(message?: any, ...optionalParams: any[]): void",
  info: "(message?: any, ...optionalParams: any[]): void",
  debug: "(message?: any, ...optionalParams: any[]): void",
  trace: "(message?: any, ...optionalParams: any[]): void",
  table: "(tabularData: any, properties?: readonly string[]): void",
  time: "(label?: string): void",
  timeEnd: "(label?: string): void",
  timeLog: "(label?: string, ...data: any[]): void",
  count: "(label?: string): void",
  assert: "(value: any, message?: string, ...optionalParams: any[]): void",
};

/** An interface named `name` with those methods. */
export function consoleInterface(name: string, methods: Readonly<Record<string, string>> = QUICK_CONSOLE_METHODS): string {
  return `interface ${name} {\n${Object.entries(methods).map(([m, signature]) => `  ${m}${signature};\n`).join("")}}\n`;
}

export const QUICK_GLOBALS =
  ["ReadableStream<R = any>", "RequestInit"]
    .map((name) => `interface ${name} {\n  readonly "a type of Node's: the quick converter does not know it": never;\n}\n`)
    .join("") + `${consoleInterface("Console")}declare var console: Console;\n`;

/**
 * What the quick converter (converters.ts) declares in place of the few global types of Node's that the cell
 * scope's declarations name: Arquero's loaders take a `ReadableStream` or `RequestInit`, which come with Node's
 * types (as the web's). Without a declaration they would be error types, which accept anything, and a cell
 * passing the wrong thing would compile there but not on the full converter. Each is declared as a type no
 * value has but one typed with that very name (or `any`): never looser than Node's, so a cell that compiles
 * here compiles there; a cell that uses one for real (`new ReadableStream()`, `.getReader()`) gets a diagnostic
 * and goes to the full converter. The unit test cell-scope-types keeps this list whole.
 */
export const QUICK_GLOBALS_FILE = "/__elixirlumin__/quick-globals.d.ts";

export const QUICK_GLOBALS = ["ReadableStream<R = any>", "RequestInit"]
  .map((name) => `interface ${name} {\n  readonly "a type of Node's: the quick converter does not know it": never;\n}\n`)
  .join("");

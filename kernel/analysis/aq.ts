/**
 * Arquero for the analysis and chart library: the runtime module and its types, in one place.
 *
 * Arquero is an ES module and this package compiles to CommonJS. Node 20.19+ (and 22.12+) load an ES
 * module without top-level await through `require`, which lets every function here stay synchronous: it
 * takes a table and returns a table, as a notebook cell expects. The type imports need the
 * `resolution-mode` attribute, which the TypeScript that `npx tsc` runs here (tslab's 5.0) still reports as
 * unstable while resolving the types all the same; hence the two ts-ignore comments.
 */

// @ts-ignore TS4125: resolution-mode is stable from TypeScript 5.3; the type resolves either way.
export type Arquero = typeof import("arquero", { assert: { "resolution-mode": "import" } });
// @ts-ignore TS4125 (as above)
export type ColumnTable = import("arquero", { assert: { "resolution-mode": "import" } }).ColumnTable;

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const aq: Arquero = require("arquero");

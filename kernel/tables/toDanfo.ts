/**
 * An Arquero table as a danfo.js DataFrame, for those who prefer danfo's API. Terms become their formatted
 * text (danfo has no place for lazy values). danfojs-node is heavy, so it loads on first use only.
 *
 * danfo.js ships inside this package as one file, dist/vendor/danfojs-node.js, bundled at build time
 * (scripts/build.js): the published danfojs-node depends on @tensorflow/tfjs-node, which downloads
 * TensorFlow's C library from outside the npm registry at install, and on an xlsx tarball from a CDN — an
 * install of this package as a dependency could not avoid either. A source checkout not yet bundled uses
 * its devDependency.
 */
import path from "node:path";
import type { TableLike } from "../display/tableBundle";
import { isTerm } from "../display/plainText";

const DANFO = [path.join(__dirname, "..", "..", "vendor", "danfojs-node.js"), "danfojs-node"];

function loadDanfo(): { DataFrame: new (data: Record<string, unknown[]>) => unknown } {
  for (const id of DANFO) {
    try {
      return require(id);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  throw new Error("toDanfo needs danfo.js, which this build lacks: run `npm run build` in the ElixirLumin checkout (it bundles dist/vendor/danfojs-node.js), or reinstall the package.");
}

/**
 * The table as a danfo.js DataFrame, for those who prefer danfo's API (terms become their formatted text).
 * @example toDanfo(orders).describe().print()
 */
export function toDanfo(table: TableLike): unknown {
  const { DataFrame } = loadDanfo();
  const columns: Record<string, unknown[]> = {};
  const rows = table.numRows();
  for (const name of table.columnNames()) {
    const values = new Array<unknown>(rows);
    for (let r = 0; r < rows; r++) {
      const v = table.get(name, r);
      values[r] = isTerm(v) ? String(v) : v;
    }
    columns[name] = values;
  }
  return new DataFrame(columns);
}

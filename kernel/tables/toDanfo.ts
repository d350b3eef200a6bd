/**
 * An Arquero table as a danfo.js DataFrame, for those who prefer danfo's API. Terms become their formatted
 * text (danfo has no place for lazy values). danfojs-node is heavy, so it loads on first use only.
 */
import type { TableLike } from "../display/tableBundle";
import { isTerm } from "../display/plainText";

export function toDanfo(table: TableLike): unknown {
  const { DataFrame } = require("danfojs-node") as { DataFrame: new (data: Record<string, unknown[]>) => unknown };
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

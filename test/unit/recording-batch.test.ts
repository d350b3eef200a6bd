/**
 * A replay feeds a probe's rows back as the batches a node sent, read from the probe's Arrow file
 * (kernel/recording/tableBatch.ts): every kind of column — floats, ints, dictionaries of text, booleans and
 * numbers with nulls, terms, constants — comes back as the same values, in the same column types (so the
 * table shows them as it did live), for any slice of the rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Atom, encode, List, Tuple } from "../../kernel/beam/etf";
import { decodeBatch } from "../../kernel/beam/batchDecoder";
import { loadCapture, saveCapture } from "../../kernel/tables/capture";
import { columnTable } from "../../kernel/tables/tables";
import { mergeColumns } from "../../kernel/tables/tableBuilder";
import { batchOf } from "../../kernel/recording/tableBatch";
import { columnNames } from "../../kernel/tables/schemas";

const le = (a: Float64Array | Int32Array | Uint32Array) => Buffer.from(a.buffer);

/** A `top` batch as a node sends it: every column encoding once. */
function nodeBatch(): Uint8Array {
  const terms = [encode(new Tuple([new Atom("ok"), 1])), encode(Buffer.from("x")), Buffer.alloc(0)];
  const offsets = new Uint32Array([0, terms[0].length, terms[0].length + terms[1].length, terms[0].length + terms[1].length]);
  return encode(new Map<unknown, unknown>([
    [new Atom("kind"), new Atom("top")],
    [new Atom("count"), 3],
    [new Atom("dropped"), 0],
    [new Atom("columns"), new Map<unknown, unknown>([
      [new Atom("node"), new Tuple([new Atom("const"), Buffer.from("a@h")])],
      [new Atom("pid"), new Tuple([new Atom("dict"), new List([Buffer.from("<0.1.0>"), Buffer.from("<0.2.0>")]), le(new Uint32Array([0, 1, 0]))])],
      [new Atom("name"), new Tuple([new Atom("dict"), new List([new Atom("nil"), new Atom("Elixir.Shop.Orders")]), le(new Uint32Array([0, 1, 1]))])],
      [new Atom("memory"), new Tuple([new Atom("i32"), le(new Int32Array([689704, 4188, 12]))])],
      [new Atom("heap_size"), new Tuple([new Atom("f64"), le(new Float64Array([86075, 4188, 233]))])],
      [new Atom("reductions_per_s"), new Tuple([new Atom("f64"), le(new Float64Array([0.5, 12.25, 3]))])],
      [new Atom("agent"), new Tuple([new Atom("dict"), new List([new Atom("false"), new Atom("true")]), le(new Uint32Array([0, 0, 1]))])],
      [new Atom("current_function"), new Tuple([new Atom("terms"), le(offsets), Buffer.concat(terms)])],
    ])],
  ]));
}

const rowsOf = async (bytes: Uint8Array) => {
  const t = await columnTable("top", mergeColumns([decodeBatch(bytes)], columnNames("top"), "elixir"), { dropped: 0 });
  const types = Object.fromEntries(t.columnNames().map((n) => [n, (t.column(n) as object).constructor.name]));
  const rows = t.objects().map((r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null || typeof v !== "object" ? v : String(v)])));
  return { rows, types };
};

describe("a recorded table's rows as a node's batch again", () => {
  it("gives back the same values in the same column types, whole or sliced", async () => {
    const live = await rowsOf(nodeBatch());
    const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-batch-"));
    try {
      const table = await columnTable("top", mergeColumns([decodeBatch(nodeBatch())], columnNames("top"), "elixir"), { dropped: 0 });
      saveCapture(table, path.join(dir, "top.arrow"));
      const back = loadCapture(path.join(dir, "top.arrow"));
      const replayed = await rowsOf(batchOf(back.table, "top", 0, 3, 0, back.types));
      expect(replayed.rows).toEqual(live.rows);
      expect(replayed.types).toEqual(live.types);
      // Slices, as the timeline's batches cut them, add up to the same rows.
      const parts = [batchOf(back.table, "top", 0, 1, 0, back.types), batchOf(back.table, "top", 1, 2, 0, back.types)];
      const joined = await columnTable("top", mergeColumns(parts.map(decodeBatch), columnNames("top"), "elixir"), { dropped: 0 });
      expect(joined.objects().map((r: Record<string, unknown>) => r.pid)).toEqual(["<0.1.0>", "<0.2.0>", "<0.1.0>"]);
      expect(String(joined.get("current_function", 0))).toBe("{:ok, 1}");
      expect(joined.get("current_function", 2)).toBeNull();
      expect(joined.get("name", 0)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

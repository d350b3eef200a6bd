/** Batches merged into compact columns: the same rows, in fewer bytes, whatever order kinds arrive in. */
import { describe, expect, it } from "vitest";
import { columnsAsBatch, mergeColumns, type DecodedBatch, type RawColumn } from "../../kernel/beam/batchDecoder";
import { ConstColumn, DictColumn, TermColumn } from "../../kernel/tables/columns";
import { encode } from "../../kernel/beam/etf";

const batch = (count: number, columns: Record<string, RawColumn>): DecodedBatch => ({ kind: "calls", count, dropped: 0, columns: new Map(Object.entries(columns)) });
const terms = (values: (unknown | null)[]): RawColumn => {
  const parts = values.map((v) => (v === null ? new Uint8Array(0) : encode(v)));
  const offsets = new Uint32Array(values.length + 1);
  parts.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length));
  return { type: "terms", offsets, data: Uint8Array.from(Buffer.concat(parts)) };
};

describe("mergeColumns", () => {
  it("narrows integers and dictionary indexes, and makes single-valued or empty columns constant", () => {
    const out = mergeColumns(
      [
        batch(2, { arity: { type: "i32", data: Int32Array.of(2, 3) }, module: { type: "dict", values: ["A"], indexes: Uint32Array.of(0, 0) }, args: terms([null, null]) }),
        batch(1, { arity: { type: "i32", data: Int32Array.of(2) }, module: { type: "dict", values: ["A"], indexes: Uint32Array.of(0) }, args: terms([null]) }),
      ],
      ["arity", "module", "args", "missing"],
      "elixir",
    );
    expect(out.arity).toBeInstanceOf(Int8Array);
    expect([...(out.arity as Int8Array)]).toEqual([2, 3, 2]);
    expect(out.module).toEqual(new ConstColumn("A", 3));
    expect(out.args).toEqual(new ConstColumn(null, 3));
    expect(out.missing).toEqual(new ConstColumn(null, 3));
  });

  it("merges a compacted set with later batches, even when a column was all null until then", () => {
    const first = mergeColumns([batch(2, { result: terms([null, null]), pid: { type: "dict", values: ["<0.1.0>", "<0.2.0>"], indexes: Uint32Array.of(0, 1) } })], ["result", "pid"], "elixir");
    const later = batch(2, { result: terms([42, "ok"]), pid: { type: "dict", values: ["<0.2.0>", "<0.3.0>"], indexes: Uint32Array.of(1, 0) } });
    const out = mergeColumns([columnsAsBatch(first, 2, "calls"), later], ["result", "pid"], "elixir");
    expect(out.result).toBeInstanceOf(TermColumn);
    expect([...(out.result as TermColumn)].map((t) => t?.value ?? null)).toEqual([null, null, 42, "ok"]);
    expect(out.pid).toBeInstanceOf(DictColumn);
    expect((out.pid as DictColumn).indexes).toBeInstanceOf(Uint8Array);
    expect([...(out.pid as DictColumn)]).toEqual(["<0.1.0>", "<0.2.0>", "<0.3.0>", "<0.2.0>"]);
  });
});

/** Batches appended to compact columns: the same rows, in fewer bytes, whatever order kinds arrive in. */
import { describe, expect, it } from "vitest";
import type { DecodedBatch, RawColumn } from "../../kernel/beam/batchDecoder";
import { mergeColumns, TableBuilder } from "../../kernel/tables/tableBuilder";
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

  it("grows with later batches, even when a column was all null until then, and leaves earlier tables as they were", () => {
    const b = new TableBuilder(["result", "pid"], "elixir");
    b.append(batch(2, { result: terms([null, null]), pid: { type: "dict", values: ["<0.1.0>", "<0.2.0>"], indexes: Uint32Array.of(0, 1) } }));
    const first = b.columns();
    b.append(batch(2, { result: terms([42, "ok"]), pid: { type: "dict", values: ["<0.2.0>", "<0.3.0>"], indexes: Uint32Array.of(1, 0) } }));
    const out = b.columns();
    expect(out.result).toBeInstanceOf(TermColumn);
    expect([...(out.result as TermColumn)].map((t) => t?.value ?? null)).toEqual([null, null, 42, "ok"]);
    expect(out.pid).toBeInstanceOf(DictColumn);
    expect((out.pid as DictColumn).indexes).toBeInstanceOf(Uint8Array);
    expect([...(out.pid as DictColumn)]).toEqual(["<0.1.0>", "<0.2.0>", "<0.3.0>", "<0.2.0>"]);
    expect(first.result).toEqual(new ConstColumn(null, 2));
    expect([...(first.pid as DictColumn)]).toEqual(["<0.1.0>", "<0.2.0>"]);
  });

  it("widens integers and dictionary indexes when a later batch needs it, keeping the rows before", () => {
    const b = new TableBuilder(["arity", "pid"], "elixir");
    const pids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `<0.${from + i}.0>`);
    b.append(batch(300, { arity: { type: "i32", data: new Int32Array(300).fill(7) }, pid: { type: "dict", values: pids(0, 300), indexes: Uint32Array.from({ length: 300 }, (_, i) => i) } }));
    expect((b.columns().pid as DictColumn).indexes).toBeInstanceOf(Uint16Array);
    b.append(batch(2, { arity: { type: "i32", data: Int32Array.of(-40_000, 1) }, pid: { type: "dict", values: ["<0.5.0>"], indexes: Uint32Array.of(0, 0) } }));
    const out = b.columns();
    expect(out.arity).toBeInstanceOf(Int32Array);
    expect([...(out.arity as Int32Array)].slice(298)).toEqual([7, 7, -40_000, 1]);
    expect([...(out.pid as DictColumn)].slice(298)).toEqual(["<0.298.0>", "<0.299.0>", "<0.5.0>", "<0.5.0>"]);
    b.trim();
    expect((b.columns().arity as Int32Array).buffer.byteLength).toBe(302 * 4);
  });

  it("turns a constant column into values when one batch differs (the rows before keep the constant)", () => {
    const b = new TableBuilder(["node"], "elixir");
    b.append(batch(2, { node: { type: "const", value: "a@h" } }));
    b.append(batch(1, { node: { type: "const", value: "a@h" } }));
    expect(b.columns().node).toEqual(new ConstColumn("a@h", 3));
    b.append(batch(1, { node: { type: "const", value: "b@h" } }));
    expect([...(b.columns().node as DictColumn)]).toEqual(["a@h", "a@h", "a@h", "b@h"]);
  });

  it("grows no larger than the most rows there can be, so a probe that reached its budget has nothing to trim", () => {
    const b = new TableBuilder(["time_us", "message"], "elixir", 3000);
    for (let i = 0; i < 2; i++) b.append(batch(1500, { time_us: { type: "f64", data: new Float64Array(1500).fill(i) }, message: terms(Array(1500).fill(i)) }));
    const out = b.columns();
    expect((out.time_us as Float64Array).buffer.byteLength).toBe(3000 * 8);
    expect((out.message as TermColumn).data.buffer.byteLength).toBe(3000 * 3);
    expect([...(out.message as TermColumn)].map((t) => t?.value)).toEqual([...Array(1500).fill(0), ...Array(1500).fill(1)]);
  });
});

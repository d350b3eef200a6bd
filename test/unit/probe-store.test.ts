/** What the kernel keeps of its probes: names newest first, rows kept after the end, and dropped on %drop. */
import { describe, expect, it } from "vitest";
import { Atom, encode, Tuple } from "../../kernel/beam/etf";
import type { ProbeStatusEvent } from "../../kernel/beam/protocol";
import { ProbeStore } from "../../kernel/tables/probeStore";
import { probesTable } from "../../kernel/tables/tables";
import { columnNames } from "../../kernel/tables/schemas";

const status = (name: string, state: ProbeStatusEvent["state"], seen = 0): ProbeStatusEvent => ({
  name, node: "a@h", kind: "calls", target: "lists:seq/2", state, seen, dropped: 0, rate: 0, why_ended: state === "ended" ? "limit" : null, detail: null,
});

function add(store: ProbeStore, name: string): void {
  store.add({
    name, node: "a@h", kind: "calls", target: "lists:seq/2", syntax: "erlang", status: status(name, "armed"),
    spec: { target: "lists:seq/2", module: "lists", function: "seq", arity: 2, match: null, args: false, load: true },
  });
}

/** A batch of `n` calls whose duration_us column is 0, 1, 2…, as the agent sends it. */
function batch(n: number): Uint8Array {
  const durations = Buffer.alloc(8 * n);
  for (let i = 0; i < n; i++) durations.writeDoubleLE(i, 8 * i);
  return encode(new Map<unknown, unknown>([
    [new Atom("kind"), new Atom("calls")],
    [new Atom("count"), n],
    [new Atom("dropped"), 0],
    [new Atom("columns"), new Map([[new Atom("duration_us"), new Tuple([new Atom("f64"), durations])]])],
  ]));
}

describe("the probe store", () => {
  it("names its probes and captures newest first", () => {
    const store = new ProbeStore();
    for (const n of ["p1", "p2", "p3"]) add(store, n);
    store.addCapture("saved", {});
    expect(store.names()).toEqual(["saved", "p3", "p2", "p1"]);
  });

  it("gives automatic names in turn, p… for probes and w… for what-ifs, past any name taken", () => {
    const store = new ProbeStore();
    add(store, "p2");
    store.addCapture("p3", {}); // a capture loaded under that name is read before a probe of it: never shadowed
    store.addCapture("w1", {});
    expect([store.nextName(), store.nextName()]).toEqual(["p1", "p4"]);
    expect([store.nextName("w"), store.nextName("w")]).toEqual(["w2", "w3"]);
    add(store, "p5");
    store.onStatus(status("p5", "ended"));
    expect(store.nextName()).toBe("p6"); // an ended probe's events stay readable under its name: not taken over
  });

  it("keeps an ended probe's rows, and forgets them on drop", async () => {
    const store = new ProbeStore();
    add(store, "p1");
    store.onBatch("p1", batch(1000));
    store.onStatus(status("p1", "ended", 1000));
    const t = (await store.table("p1")) as { numRows(): number; array(c: string): ArrayLike<number> };
    expect(t.numRows()).toBe(1000);
    expect(t.array("duration_us")[999]).toBe(999);
    expect(store.drop("p1")).toEqual({ rows: 1000 });
    expect(store.has("p1")).toBe(false);
    expect(store.names()).toEqual([]);
    await expect(store.table("p1")).rejects.toThrow(/no probe named p1/);
  });

  it("refuses to drop a probe still armed", () => {
    const store = new ProbeStore();
    add(store, "p1");
    expect(() => store.drop("p1")).toThrow(/still armed; %disarm it first/);
  });

  it("lists probes newest first in the probes table", async () => {
    const t = (await probesTable(["p1", "p2", "p3"].map((n) => ({ status: status(n, "armed"), kind: "calls" as const })))) as unknown as {
      array(c: string): string[];
      columnNames(): string[];
    };
    expect([...t.array("name")]).toEqual(["p3", "p2", "p1"]);
    expect(t.columnNames()).toEqual(columnNames("probes"));
  });
});

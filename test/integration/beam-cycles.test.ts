/**
 * Fifty arm/disarm cycles of every probe kind leave nothing growing: no process, no atom, no trace flag and no
 * logger handler stays on the node, and the kernel gives back the memory of the rows it dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KernelClient } from "../support/jupyter";
import { cellJson, elixirCell, startShopKernel, uniqueName } from "../support/beam";

const CYCLES = 50;
const KINDS = [
  "Shop.Orders.place/2",
  "--messages Shop.Inventory",
  "--procs app:shop",
  "--state Shop.Inventory",
  "--logs warning",
  "--metrics --every 200ms",
];

let k: KernelClient;
beforeAll(async () => {
  k = await startShopKernel(uniqueName("cycles"));
}, 240_000);
afterAll(async () => {
  await k?.shutdown();
});

/** What could leak on the node: its processes, its atoms, processes with trace flags, logger handlers. */
async function nodeFootprint(): Promise<string> {
  return elixirCell(
    k,
    `for p <- Process.list(), do: :erlang.garbage_collect(p)
{length(Process.list()), :erlang.system_info(:atom_count),
 Enum.count(Process.list(), fn p -> :erlang.trace_info(p, :flags) not in [{:flags, []}, :undefined] end),
 length(:logger.get_handler_ids())}`,
  );
}

/** One cycle: every kind armed, some work for them to see, then each probe dropped (disarmed and forgotten). */
async function cycle(i: number): Promise<void> {
  const names = KINDS.map((_, j) => `c${i}_${j}`);
  const arm = KINDS.map((spec, j) => `%probe ${spec} --as ${names[j]}`).join("\n");
  const r = await k.execute(arm, { timeout: 60 });
  const err = r.messages.find((m) => m.msg_type === "error");
  if (err) throw new Error(`cycle ${i}: ${err.content.evalue}`);
  await elixirCell(k, `for n <- 1..5, do: Shop.Orders.place("apple", n)\n:ok`);
  const drop = await k.execute(names.map((n) => `%drop ${n}`).join("\n"), { timeout: 60 });
  const dropErr = drop.messages.find((m) => m.msg_type === "error");
  if (dropErr) throw new Error(`cycle ${i} drop: ${dropErr.content.evalue}`);
}

const kernelHeapMb = () => cellJson<number>(k, "console.log(JSON.stringify(process.memoryUsage().heapUsed / 1048576))");

describe(`${CYCLES} arm/disarm cycles of every kind`, () => {
  it("leave no process, atom, trace flag or logger handler behind on the node, and the kernel's memory flat", async () => {
    await cycle(0); // the agent's long-lived processes start with the first probe
    await new Promise((r) => setTimeout(r, 1000));
    await nodeFootprint(); // its own first evaluation may make atoms of its code's names
    const before = await nodeFootprint();
    const heapBefore = await kernelHeapMb();
    for (let i = 1; i <= CYCLES; i++) await cycle(i);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await nodeFootprint();
    const heapAfter = await kernelHeapMb();
    expect(after, `node footprint {processes, atoms, traced processes, logger handlers} before ${before}`).toBe(before);
    const probes = await cellJson<number>(k, "const left = %probes\nconsole.log(JSON.stringify(left.numRows()))");
    expect(probes).toBe(0);
    expect(heapAfter - heapBefore).toBeLessThan(40);
  }, 600_000);
});

/**
 * What-if replays (issue 12) through a real Jupyter client, on the sample shop app started by the kernel:
 * recorded calls and GenServer messages re-run on the shadow node, with the same code (same results on every
 * row), other arguments, another state and replacement code; what the target sees of it (nothing); sends and
 * calls out; bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KernelClient } from "../support/jupyter";
import { cellError, cellJson, elixirCell, startShopKernel, uniqueName } from "../support/beam";

let k: KernelClient;
const SHOP = uniqueName("whatif");
const ex = (code: string) => elixirCell(k, code);
let cells = 0;
/** The rows of a table a cell makes, as plain objects (terms as text). */
function rowsOf(code: string, columns = "*"): Promise<any[]> {
  const v = `wt${++cells}`;
  const select = columns === "*" ? "" : `.select(${columns.split(",").map((c) => JSON.stringify(c.trim())).join(", ")})`;
  return cellJson(k, `const ${v} = ${code}\nconsole.log(JSON.stringify(${v}${select}.objects().map((r: any) => Object.fromEntries(Object.entries(r).map(([c, x]) => [c, x != null && typeof x === "object" && !Array.isArray(x) ? String(x) : x])))))`, 120);
}

beforeAll(async () => {
  k = await startShopKernel(SHOP);
  await ex(`Shop.Inventory.restock("apple", 1_000_000)`);
}, 200_000);

afterAll(async () => {
  await k?.shutdown();
});

describe("%whatif on a call probe", () => {
  it("replaying recorded calls with the same code gives the same result on every row", async () => {
    await k.execute("%probe Shop.Pricing.price/2 --args --as prices");
    await ex(`for q <- 1..40, do: Shop.Pricing.price("apple", q)`);
    await k.execute("%disarm prices");
    const rows = await rowsOf("%whatif prices --as same", "row,function,outcome,same,recorded,replayed,args,recorded_us,replayed_us,sent_count");
    expect(rows).toHaveLength(40);
    for (const r of rows) {
      expect(r).toMatchObject({ function: "Shop.Pricing.price/2", outcome: "return", same: true, sent_count: 0 });
      expect(r.replayed).toBe(r.recorded);
      expect(r.replayed_us).toBeGreaterThan(0);
    }
  });
});

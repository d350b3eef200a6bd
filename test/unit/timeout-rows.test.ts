/** A message probe's timeout rows are left out of its table, counted; a table without any is handed back as it is. */
import { describe, expect, it } from "vitest";
import { columnNames } from "../../kernel/tables/schemas";
import { columnTable, withoutTimeoutRows } from "../../kernel/tables/tables";
import { ConstColumn, DictColumn } from "../../kernel/tables/columns";
import { tableMeta } from "../../kernel/tables/tableMeta";

async function messages(event: DictColumn<string> | ConstColumn<string>) {
  const n = event.length;
  const columns = Object.fromEntries(columnNames("messages").map((c) => [c, c === "event" ? event : new ConstColumn(null, n)]));
  return columnTable("messages", columns as never, { node: "n@h", dropped: 0, seen: n });
}

describe("withoutTimeoutRows", () => {
  it("hands back a table whose event column holds no timeout, without a pass over its rows", async () => {
    const t = await messages(new DictColumn(["receive", "send"], Uint8Array.of(0, 1, 0)));
    expect(withoutTimeoutRows(t, "m")).toBe(t);
    const one = await messages(new ConstColumn("receive", 4));
    expect(withoutTimeoutRows(one, "m")).toBe(one);
  });

  it("leaves the timeout rows out and says how many", async () => {
    const t = await messages(new DictColumn(["receive", "timeout"], Uint8Array.of(0, 1, 1, 0, 1)));
    const shown = withoutTimeoutRows(t, "m");
    expect(shown.numRows()).toBe(2);
    expect(shown.array("event")).toEqual(["receive", "receive"]);
    expect(tableMeta(shown)?.hidden?.rows).toBe(3);
    const all = withoutTimeoutRows(await messages(new ConstColumn("timeout", 3)), "m");
    expect(all.numRows()).toBe(0);
    expect(tableMeta(all)?.hidden?.note).toBe("3 timeout rows hidden — %events m --timeouts shows them");
  });
});

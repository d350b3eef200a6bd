/** A probe's status line: its wording, and an HTML twin that wraps between words (classic Notebook breaks text/plain mid-word). */
import { describe, expect, it } from "vitest";
import { statusBundle, statusText } from "../../kernel/display/statusLine";
import type { ProbeStatusEvent } from "../../kernel/beam/protocol";

const status = (s: Partial<ProbeStatusEvent>): ProbeStatusEvent => ({
  name: "fib", node: "demo@host", kind: "calls", target: "Demo.fib/1", state: "armed", seen: 1204, dropped: 0, rate: 310.4, why_ended: null, detail: null, ...s,
});

describe("probe status line", () => {
  it("reads count, rate and drops while armed", () => {
    expect(statusText(status({}))).toBe("fib · Demo.fib/1 on demo@host · armed · 1,204 seen, 310/s, 0 dropped");
  });

  it("says why it ended once, in the agent's sentence when there is one", () => {
    expect(statusText(status({ state: "ended", seen: 465, why_ended: "disarmed", detail: "disarmed by the user" }))).toBe(
      "fib · Demo.fib/1 on demo@host · ended · 465 seen, 0 dropped — disarmed by the user",
    );
    expect(statusText(status({ state: "ended", why_ended: "node_down" }))).toMatch(/ended · 1,204 seen, 0 dropped — node down$/);
  });

  it("carries HTML that keeps the text and wraps only between words", () => {
    const b = statusBundle(status({ target: "Shop.Orders.Fulfilment.Warehouse.reserve/3 <script>" }));
    expect(b["text/plain"]).toBe(statusText(status({ target: "Shop.Orders.Fulfilment.Warehouse.reserve/3 <script>" })));
    expect(b["text/html"]).toMatch(/^<div class="elixirlumin-text" style="[^"]*white-space:pre-wrap;word-break:normal[^"]*">fib · Shop\.Orders/);
    expect(b["text/html"]).toContain("&lt;script&gt;");
  });
});

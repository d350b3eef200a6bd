/**
 * A kernel whose Jupyter client dies without a shutdown_request ends by itself, idle or stuck in a cell, so
 * nothing it started (the bridge, probes on nodes) outlives the client.
 */
import { describe, expect, it } from "vitest";
import { startKernel } from "../support/jupyter";

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return !isAlive(pid);
}

describe("a kernel whose client dies", () => {
  it("shuts itself down when idle", async () => {
    const k = await startKernel();
    const pid = k.pid;
    expect((await k.execute("%lsmagic")).reply.content.status).toBe("ok");
    k.killClient();
    expect(await goneWithin(pid, 20_000)).toBe(true);
  });

  it("ends even while a cell is stuck in a busy loop", async () => {
    const k = await startKernel();
    const pid = k.pid;
    // The driver stops waiting after 3 s; the cell goes on spinning on the kernel's main thread.
    await k.execute("while (true) {}", { timeout: 3 }).catch(() => undefined);
    expect(isAlive(pid)).toBe(true);
    k.killClient();
    expect(await goneWithin(pid, 25_000)).toBe(true);
  });
});

/**
 * The OTP tours. First the predict/reveal helper through a real Jupyter client (jupyter_client): a live
 * frontend is asked through an input_request and the answer shows in the reveal; a frontend that takes no
 * input (allow_stdin false, as nbconvert sends) is never asked (a request would hang the cell past its timeout). Then every tour executed headless by
 * nbconvert, and the facts each one teaches checked against what its probes saw: each tour prints them as
 * `facts: {…}` JSON lines, so a tour whose evidence contradicts its text fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ofType, startKernel, type ExecuteResult, type KernelClient } from "../support/jupyter";

const shown = (r: ExecuteResult, mime = "text/plain") => ofType(r, "display_data").map((m) => String(m.content.data[mime] ?? "")).join("\n");

describe("predict and reveal", () => {
  let k: KernelClient;
  beforeAll(async () => {
    // In the repository: a kernel whose working directory is outside it cannot load the cell scope yet
    // (the evaluator's compiler cannot name Arquero's types from there).
    k = await startKernel();
  });
  afterAll(async () => {
    await k?.shutdown();
  });

  it("asks a live frontend through an input_request and shows the answer beside what was observed", async () => {
    const q = "How many times is the worker restarted?";
    const r = await k.execute(`const pLive = await predict(${JSON.stringify(q)}, { choices: [1, 3, "forever"] });\nreveal(pLive, 3, { explain: "max_restarts is 3." })`, { inputs: ["2"] });
    expect(r.reply.content.status).toBe("ok");
    expect(r.prompts).toHaveLength(1);
    expect(r.prompts[0].password).toBe(false);
    const text = shown(r);
    expect(text).toContain(`Predict: ${q}`);
    // "2" picks the second choice, which is what the probe measured.
    expect(text).toMatch(/Your prediction: 3\nObserved: 3\nVerdict: right\nWhy: max_restarts is 3\./);
    expect(shown(r, "text/html")).toMatch(/<th[^>]*>Your prediction<\/th><td[^>]*>3<\/td>/);
  });

  it("says when the prediction was wrong, with a right answer that is not the observed value itself", async () => {
    const r = await k.execute(`const pWrong = await predict("Does the wait grow with the queue?", { choices: ["no", "it grows"] });\nreveal(pWrong, 12.5, { explain: "Selective receive scans the queue.", unit: "ms", right: "it grows" })`, { inputs: ["no"] });
    expect(shown(r)).toMatch(/Your prediction: no\nObserved: 12\.5 ms — so: it grows\nVerdict: not this time/);
  });

  it("sends no input_request when the frontend takes no input, and shows the evidence alone", async () => {
    const r = await k.execute(`const pHeadless = await predict("Who dies?", { choices: ["the caller", "nobody"] });\nreveal(pHeadless, "the caller", { explain: "Links propagate exits." })`, { timeout: 15 });
    expect(r.reply.content.status).toBe("ok");
    expect(r.prompts).toEqual([]);
    expect(ofType(r, "error")).toEqual([]);
    const text = shown(r);
    expect(text).toContain("Predict: Who dies?\n  1. the caller\n  2. nobody");
    expect(text).toMatch(/Your prediction: \(not asked: this run takes no input\)\nObserved: the caller\nWhy: Links propagate exits\./);
    expect(text).not.toContain("Verdict");
  });
});

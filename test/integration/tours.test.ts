/**
 * The OTP tours. First the predict/reveal helper through a real Jupyter client (jupyter_client): a live
 * frontend is asked through an input_request and the answer shows in the reveal; a frontend that takes no
 * input (allow_stdin false, as nbconvert sends) is never asked (a request would hang the cell past its timeout). Then every tour executed headless by
 * nbconvert, and the facts each one teaches checked against what its probes saw: each tour prints them as
 * `facts: {…}` JSON lines, so a tour whose evidence contradicts its text fails here.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, notebookFolder, ofType, startKernel, type ExecuteResult, type KernelClient } from "../support/jupyter";
import { executeNotebook, joinText, replayOfLiveRun, type Cell, type Output } from "../support/nbconvert";

const shown = (r: ExecuteResult, mime = "text/plain") => ofType(r, "display_data").map((m) => String(m.content.data[mime] ?? "")).join("\n");

describe("predict and reveal", () => {
  let k: KernelClient;
  beforeAll(async () => {
    // A folder of its own outside the repository, as a reader's notebook folder is.
    k = await startKernel({ cwd: notebookFolder() });
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

  it("takes an empty answer as no prediction", async () => {
    const r = await k.execute(`const pEmpty = await predict("Who dies?");\nreveal(pEmpty, "the caller", { explain: "Links." })`, { inputs: [""] });
    expect(r.prompts).toHaveLength(1);
    expect(shown(r)).toMatch(/Your prediction: \(no answer given\)\nObserved: the caller\nWhy: Links\./);
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


/**
 * A tour executed headless by nbconvert (allow_stdin false), from a copy of notebooks/ outside the repository;
 * it records itself (`%record recordings/NAME`), and is then replayed from that recording with no node.
 */
async function execute(notebook: string): Promise<{ cells: Cell[]; seconds: number; replay: Awaited<ReturnType<typeof replayOfLiveRun>> }> {
  const started = Date.now();
  const run = await executeNotebook(notebook, { timeoutSec: 120 });
  const seconds = (Date.now() - started) / 1000;
  try {
    return { cells: run.notebook.cells as Cell[], seconds, replay: await replayOfLiveRun(notebook, run) };
  } finally {
    run.cleanup();
  }
}

const errorsIn = (cells: Cell[]) => cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}\n--- in cell:\n${joinText(c.source)}`));

/** Every `facts: {…}` line the tour printed, merged: the evidence its probes gave, in numbers and names. */
function factsOf(cells: Cell[]): Record<string, any> {
  const lines = cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "stream")).flatMap((o) => joinText(o.text).split("\n"));
  return Object.assign({}, ...lines.filter((l) => l.startsWith("facts: ")).map((l) => JSON.parse(l.slice("facts: ".length))));
}

/** What each tour teaches, checked against what its probes saw. */
const FACTS: Record<string, (f: Record<string, any>) => void> = {
  "01-processes-and-mailboxes.ipynb": (f) => {
    // A send to a dead process returns the message and raises nothing.
    expect(f.send_to_dead).toEqual([false, "hello"]);
    // :go arrived last but was the first taken; then :c; then the rest in arrival order.
    expect(f.picky_order).toEqual(["go", "c", "a", "b"]);
    // Queues of 0, 20k, 40k, 80k, 160k: the selective receive grows with the queue, the reply matched on a fresh
    // reference does not scan it. (Only lower bounds: on a busy machine a long scan is also descheduled, which
    // makes it look longer, never shorter.)
    const s: number[] = f.selective_median_us;
    expect(f.queues).toEqual([0, 20_000, 40_000, 80_000, 160_000]);
    expect(s[4]).toBeGreaterThan(20 * Math.max(s[0], 5));
    expect(s[4] / s[2]).toBeGreaterThan(1.5);
    expect(f.fresh_ref_median_us[4]).toBeLessThan(s[4] / 5);
    // The exercise as shipped is the slow version: its check says "not yet", and the probe agrees.
    expect(f.exercise_passed).toBe(false);
    expect(f.exercise_full_us).toBeGreaterThan(5 * f.exercise_empty_us + 50);
  },
  "02-genserver.ipynb": (f) => {
    // start returns after init/1; handle_continue (200 ms) runs before the first call, which waits for it.
    expect(f.continue_after_init).toBe(true);
    expect(f.call_served_after_continue).toBe(true);
    expect(f.start_returned_before_continue_ended).toBe(true);
    expect(f.start_ms).toBeLessThan(100);
    expect(f.count_wait_ms).toBeGreaterThanOrEqual(150);
    // A cast, a plain message and a call arrive as cast, info and call; only the call is answered.
    expect(f.received_protocols).toEqual(["cast", "info", "call"]);
    expect(f.replies_sent).toBe(1);
    // The 500 ms timeout: the server replied at about 800 ms, after the caller gave up, and the reply never arrived.
    expect(f.reply_sent_after_ms).toBeGreaterThanOrEqual(790);
    expect(f.reply_sent_after_ms).toBeGreaterThan(f.timeout_ms);
    expect(f.late_reply_arrived).toBe(false);
    expect(f.caller_received.some((m: string) => m.includes(":done"))).toBe(false);
    // The exercise as shipped blocks: count() waits behind the slow request.
    expect(f.exercise_passed).toBe(false);
    expect(f.exercise_count_wait_ms).toBeGreaterThanOrEqual(200);
  },
  "03-links-and-monitors.ipynb": (f) => {
    const o = f.outcomes;
    const died = (k: string, reason: string) => expect(o[k], k).toEqual({ reason, survived: false });
    const survived = (k: string) => expect(o[k], k).toEqual({ reason: ":normal", survived: true });
    died("crash.child", ":boom");
    died("crash.parent", ":boom"); // a link kills a non-trapping parent with the child's reason
    died("trap.child", ":boom");
    survived("trap.parent"); // trap_exit: the signal became a message
    died("normal.child", ":normal");
    survived("normal.parent"); // :normal does not kill
    died("shutdown.child", ":shutdown");
    died("shutdown.parent", ":shutdown");
    died("kill.parent", ":killed"); // :kill is not trappable, and spreads as :killed
    died("kill.child", ":killed");
    died("monitor.child", ":boom");
    survived("monitor.watcher");
    // The survivors' messages, as the message probe saw them arrive.
    expect(f.signal_messages).toHaveLength(2);
    expect(f.signal_messages[0]).toMatchObject({ to: "Links.Trap.Parent", protocol: "EXIT" });
    expect(f.signal_messages[0].message).toMatch(/^\{:"?EXIT"?, #PID<[\d.]+>, :boom\}$/);
    expect(f.signal_messages[1]).toMatchObject({ to: "Links.Monitor.Watcher", protocol: "DOWN" });
    expect(f.signal_messages[1].message).toMatch(/^\{:"?DOWN"?, #Reference<[\d.]+>, :process, #PID<[\d.]+>, :boom\}$/);
    // The exercise as shipped links, so the caller dies with the crash.
    expect(f.exercise_passed).toBe(false);
    expect(f.exercise_caller_exit).toBe(":boom");
  },
  "04-supervisors.ipynb": (f) => {
    // B crashed under each strategy: who exited (B with :boom, the others stopped with :shutdown to be restarted).
    expect(f.strategies).toEqual({ one_for_one: ["B"], one_for_all: ["A", "B", "C"], rest_for_one: ["B", "C"] });
    expect(f.reasons).toMatchObject({ "OneForOne.B": ":boom", "OneForAll.A": ":shutdown", "OneForAll.C": ":shutdown", "RestForOne.C": ":shutdown" });
    // max_restarts 3 in 5 s: four crashes, exactly three restarts, then Team exits with :shutdown and Top starts a new one.
    expect(f.flaky_crashes).toBe(4);
    expect(f.restarts_by_team).toBe(f.max_restarts);
    expect(f.team_exit_reason).toBe(":shutdown");
    expect(f.team_exit_after_last_restart).toBe(true);
    expect(f.top_restarted_team).toBe(true);
    expect(f.fresh_flaky_started).toBe(1);
    // The tree snapshots agree: exactly the restarted processes have new pids.
    expect([...f.new_pids_after].sort()).toEqual(
      ["OneForOne.B", "OneForAll.A", "OneForAll.B", "OneForAll.C", "RestForOne.B", "RestForOne.C", "Team", "Team.Flaky"].map((n) => `Supervisors.${n}`).sort(),
    );
    // The exercise as shipped (one_for_one): the API does not restart with the cache.
    expect(f.exercise_passed).toBe(false);
    expect(f.exercise_exits).toEqual(["Cache :boom", "Api :boom"]);
  },
  "05-tasks.ipynb": (f) => {
    // max_concurrency: 2 — never more than two jobs at once, in either run.
    expect(f.peak_ordered).toBe(2);
    expect(f.peak_unordered).toBe(2);
    // ordered: results in input order although the jobs finished in another; ordered: false in finishing order.
    expect(f.ordered_results).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f.ordered_finish_order).not.toEqual(f.ordered_results);
    expect(f.unordered_results).toEqual(f.unordered_finish_order);
    expect(f.unordered_results).not.toEqual([11, 12, 13, 14, 15, 16]);
    // timeout: 100 with :kill_task: the slow job is replaced by {:exit, :timeout} and never returned.
    expect(f.timeout_results).toEqual([["exit", "timeout"], 22, 23]);
    expect(f.timed_out_job_returned).toBe(0);
    // Task.async's crash killed its caller; async_nolink's caller got {:exit, :boom} and ended normally.
    expect(f.caller_a).toEqual({ result: ["died", "boom"], exit: ":boom" });
    expect(f.caller_b).toEqual({ result: ["returned", ["exit", "boom"]], exit: ":normal" });
    // The exercise as shipped runs the jobs one at a time.
    expect(f.exercise_passed).toBe(false);
    expect(f.exercise_peak).toBe(1);
    expect(f.exercise_ms).toBeGreaterThanOrEqual(600);
  },
  "06-overload-and-backpressure.ipynb": (f) => {
    // Naive: every job handled, but the mailbox backs up, latency reaches most of a second, health checks time out.
    expect(f.handled.naive).toBe(f.jobs);
    expect(f.max_waiting.naive).toBeGreaterThan(100);
    expect(f.max_latency_ms.naive).toBeGreaterThan(500);
    expect(f.ping_timeouts.naive).toBeGreaterThanOrEqual(1);
    // (Latencies compared by their medians: on a busy machine a fix's slowest job can still be slow.)
    // Demand: nothing lost, at most 20 buffered (plus the one the held producer carries), checks answer, the producer slowed.
    expect(f.handled.demand).toBe(f.jobs);
    expect(f.refused.demand).toBe(0);
    expect(f.max_waiting.demand).toBeLessThanOrEqual(21);
    expect(f.median_latency_ms.demand).toBeLessThan(f.median_latency_ms.naive / 3);
    expect(f.ping_timeouts.demand).toBe(0);
    expect(f.producer_ms.demand).toBeGreaterThan(2 * f.producer_ms.naive);
    // Shedding: about two thirds refused (the probe counted the same), the rest fast, checks answer.
    expect(f.handled.shedding + f.refused.shedding).toBe(f.jobs);
    expect(f.refused.probe_saw).toBe(f.refused.shedding);
    expect(f.refused.shedding).toBeGreaterThan(f.jobs * 0.5);
    expect(f.refused.shedding).toBeLessThan(f.jobs * 0.85);
    expect(f.max_waiting.shedding).toBeLessThanOrEqual(20);
    expect(f.median_latency_ms.shedding).toBeLessThan(f.median_latency_ms.naive / 3);
    expect(f.ping_timeouts.shedding).toBe(0);
    // The exercise as shipped keeps the limit of 20: its p99 misses the 30 ms target.
    expect(f.exercise_passed).toBe(false);
    expect(f.exercise_p99_ms).toBeGreaterThan(30);
  },
};

const tours = readdirSync(path.join(ROOT, "notebooks", "tours")).filter((f) => f.endsWith(".ipynb") && !f.includes(".executed.")).sort();

describe.each(tours)("tour %s", (tour) => {
  it("runs headless, and its probes show what its text teaches", async () => {
    const { cells, seconds, replay } = await execute(`notebooks/tours/${tour}`);
    expect(errorsIn(cells)).toEqual([]);
    // Replayed from its recording with no node: no BEAM process, and the text of every cell as it was live.
    expect(replay.beamSeen).toEqual([]);
    expect(replay.replayed).toEqual(replay.live);
    // Headless: every question shown, none asked, every reveal shows the evidence.
    const shownText = cells.flatMap((c) => c.outputs ?? []).map((o) => joinText(o.data?.["text/plain"] as string | string[])).join("\n");
    const questions = shownText.match(/^Predict: /gm)?.length ?? 0;
    expect(questions).toBeGreaterThan(0);
    expect(shownText.match(/^Your prediction: \(not asked/gm)?.length).toBe(questions);
    const check = FACTS[tour];
    expect(check, `no facts are checked for ${tour}`).toBeDefined();
    check(factsOf(cells));
    // How long a reader waits (not asserted: the machine is shared; the README gives the figures).
    console.log(`${tour}: ${seconds.toFixed(1)} s headless`);
  }, 420_000);
});

/**
 * Budgets a user raises still protect the node: with --rate and --limit raised past the safe range (--unsafe),
 * a flood is still ended by the node-wide memory budget and the watchdog, the node's memory stays bounded and
 * it keeps answering RPCs; and --for ends a probe on time, flooded or not.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErlNode, cellJson, checkerRun, uniqueName } from "../support/beam";
import { startKernel, stdout, type KernelClient } from "../support/jupyter";

const COOKIE_VAR = "RAISED_BUDGETS_COOKIE";
const MB = 1024 * 1024;
let target: ErlNode;
let k: KernelClient;

beforeAll(async () => {
  target = await ErlNode.start(uniqueName("raised").slice(0, 20));
  k = await startKernel({ env: { [COOKIE_VAR]: target.cookie } });
  expect(stdout(await k.execute(`%connect ${target.node} --cookie-env ${COOKIE_VAR}`))).toContain(`Attached to ${target.node}`);
}, 120_000);

afterAll(async () => {
  await k?.shutdown();
  target?.stop();
});

/** RPC round trips (ms) from a separate node, one every 50 ms, while the test goes on. */
async function rpcLatencies(count: number): Promise<number[]> {
  const out = await checkerRun(
    target.node,
    target.cookie,
    `pong = net_adm:ping(Node), [begin timer:sleep(50), T0 = erlang:monotonic_time(microsecond), _ = rpc:call(Node, erlang, memory, [total], 5000), erlang:monotonic_time(microsecond) - T0 end || _ <- lists:seq(1, ${count})]`,
  );
  return JSON.parse(out).map((us: number) => us / 1000);
}

/** The node's peak memory (erlang:memory(total), sampled every 5 ms on the node) above its level at the start, over `ms`. */
function peakGrowth(ms: number): Promise<number> {
  return checkerRun(
    target.node,
    target.cookie,
    // Until a deadline, not a count of samples: on a flooded node each 5 ms sleep takes longer, and a fixed count
    // of them outlasted the call's timeout.
    `rpc:call(Node, erlang, apply, [fun() -> M0 = erlang:memory(total), End = erlang:monotonic_time(millisecond) + ${ms}, Loop = fun L(P) -> case erlang:monotonic_time(millisecond) >= End of true -> P; false -> timer:sleep(5), L(max(P, erlang:memory(total))) end end, Loop(M0) - M0 end, []], ${ms + 10_000})`,
  ).then(Number);
}

async function status(name: string): Promise<Record<string, any>> {
  const rows = await cellJson<any[]>(k, `const st_${name} = %probes\nconsole.log(JSON.stringify(st_${name}.objects().filter((p: any) => p.name === "${name}"), (_k, x) => (typeof x === "bigint" ? Number(x) : x)))`);
  return rows[0];
}

/**
 * Arms `probeLine`, starts `load` (an Erlang expression that registers the process making the load), watches
 * the node's memory and RPCs over `watchMs` while the probe runs to its end, and stops the load.
 */
async function floodUnderProbe(probeLine: string, name: string, load: string, loadName: string, watchMs: number) {
  const armed = await k.execute(probeLine);
  expect(armed.messages.find((m) => m.msg_type === "error")).toBeUndefined();
  const peak = peakGrowth(watchMs);
  const rpcs = rpcLatencies(watchMs / 100);
  await k.execute(`%%erlang\n${load}`);
  const ended = await cellJson<{ tookMs: number }>(k, `const t_${name} = Date.now()\nconst rows_${name} = %events ${name} --wait=20s\nconsole.log(JSON.stringify({ tookMs: Date.now() - t_${name} }))`, 60);
  const s = await status(name);
  const grew = await peak;
  const latencies = await rpcs;
  target.eval(`exit(whereis(${loadName}), kill)`);
  expect(s.state).toBe("ended");
  expect(grew / MB, `peak growth of the node's memory (why_ended ${s.why_ended}: ${s.detail})`).toBeLessThan(200);
  expect(Math.max(...latencies), `RPC round trips during the flood: ${latencies.map((l) => l.toFixed(0)).join(" ")} ms`).toBeLessThan(250);
  return { status: s, tookMs: ended.tookMs };
}

describe("raised budgets on a flood", () => {
  it("a message probe with --rate and --limit raised is still ended before it takes the node's memory, and RPCs stay fast", async () => {
    // The sink keeps its mailbox off its heap, so on its own it keeps up with the flood below (an on-heap sink
    // falls behind it even with no probe, its mailbox growing by hundreds of MB): what the node's memory does
    // then is the probe's doing.
    await k.execute(`%%erlang
register(lumin_sink, spawn(fun() -> process_flag(message_queue_data, off_heap), (fun L() -> receive _ -> L() end end)() end)).`);
    const { status: s, tookMs } = await floodUnderProbe(
      "%probe --messages lumin_sink --rate 10000000/s --limit 100000000 --for 12s --unsafe --as raised",
      "raised",
      "register(lumin_flooder, spawn(fun F() -> lumin_sink ! {flood, lists:seq(1, 20)}, F() end)).",
      "lumin_flooder",
      6_000,
    );
    expect(["memory", "overload", "rate", "mailbox", "buffer"]).toContain(s.why_ended);
    expect(tookMs).toBeLessThan(12_000);
  }, 120_000);

  it("a call probe with --rate and --limit raised on a tight loop ends by a budget or its --for, with the node's memory bounded and RPCs fast all along", async () => {
    const { status: s, tookMs } = await floodUnderProbe(
      "%probe lists:seq/2 --rate 10000000/s --limit 100000000 --for 12s --unsafe --as callflood",
      "callflood",
      "register(lumin_caller, spawn(fun L() -> _ = lists:seq(1, 3), L() end)).",
      "lumin_caller",
      12_000,
    );
    // A call probe that keeps up with the loop may run its whole --for: what must hold is --for itself, the
    // node's memory and its RPCs.
    expect(["memory", "overload", "rate", "mailbox", "buffer", "time"]).toContain(s.why_ended);
    expect(tookMs).toBeLessThan(13_500);
  }, 120_000);

  it("--for ends a message probe on time under a steady stream", async () => {
    await k.execute(`%%erlang
register(lumin_ticker, spawn(fun F() -> lumin_sink ! tick, timer:sleep(1), F() end)).`);
    const t0 = Date.now();
    const armed = await k.execute("%probe --messages lumin_sink --for 3s --as timed");
    expect(armed.messages.find((m) => m.msg_type === "error")).toBeUndefined();
    await k.execute("const timedRows = %events timed --wait=15s");
    const took = Date.now() - t0;
    const s = await status("timed");
    expect(s).toMatchObject({ state: "ended", why_ended: "time" });
    expect(took).toBeGreaterThanOrEqual(3_000);
    expect(took).toBeLessThan(6_000);
    target.eval("exit(whereis(lumin_ticker), kill)");
  }, 60_000);
});

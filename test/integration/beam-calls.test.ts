/**
 * Call probes end to end (issue 3): a real kernel through jupyter_client, attached to real BEAM nodes — the
 * sample Mix app started by `%node start --app`, and a plain `erl` node with no Elixir — probing functions
 * whose call counts the test controls, and checking the rows a user would look at.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErlNode, attachedNode, cellError, cellJson, checkerRun, startShopKernel, uniqueName, waitFor } from "../support/beam";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ofType, startKernel, stdout, texts, type KernelClient } from "../support/jupyter";

describe("the sample app, started by %node start --app", () => {
  let k: KernelClient;

  beforeAll(async () => {
    k = await startShopKernel(uniqueName("shop"));
  }, 180_000);
  afterAll(async () => {
    await k?.shutdown();
  });

  it("records every call as one row: exact count, arity, positive durations, the real results", async () => {
    await k.execute("%probe Shop.Pricing.price/2 --as prices");
    const expected = await cellJson<number[]>(k, 'const want1 = %elixir for q <- 1..37, do: Shop.Pricing.price("apple", q)\nconsole.log(JSON.stringify(want1))');
    const rows = await cellJson(
      k,
      `%disarm prices
const prices = %events prices --wait=5s
console.log(JSON.stringify({
  n: prices.numRows(),
  arities: [...new Set(prices.array("arity"))],
  functions: [...new Set(prices.array("function"))],
  modules: [...new Set(prices.array("module"))],
  minDuration: Math.min(...prices.array("duration_us")),
  results: prices.orderby("start_us").array("result").map((r: any) => r.value),
  outcomes: [...new Set(prices.array("outcome"))],
}))`,
    );
    expect(expected).toHaveLength(37);
    expect(rows).toEqual({
      n: 37,
      arities: [2],
      functions: ["price"],
      modules: ["Shop.Pricing"],
      minDuration: rows.minDuration,
      results: expected,
      outcomes: ["return"],
    });
    expect(rows.minDuration).toBeGreaterThan(0);
  });

  it("saves a probe's table as an Arrow capture that a kernel with no node reads back, terms and metadata included", async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "lumin-capture-")), "prices.arrow");
    const saved = await k.execute(`%capture save prices ${file}`);
    expect(stdout(saved)).toMatch(/Saved 37 rows of prices/);
    const offline = await startKernel();
    try {
      const r = await cellJson(offline, `const c = %capture load ${file} --as prices
console.log(JSON.stringify({ n: c.numRows(), first: c.orderby("start_us").get("result", 0).value, text: String(c.get("result", 0)) }))`);
      expect(r).toMatchObject({ n: 37, first: 45 });
      const events = await offline.execute("%events prices");
      expect(texts(events, "execute_result")[0]).toMatch(/prices: calls Shop\.Pricing\.price\/2 on shop_\S+ — 37 seen, 0 dropped/);
      const chart = await offline.execute("%chart latency prices");
      expect(ofType(chart, "execute_result")[0].content.data["image/png"]).toBeTruthy();
    } finally {
      await offline.shutdown();
    }
  });

  it("filters on the node with --match, and keeps arguments with --args", async () => {
    expect(stdout(await k.execute('%probe Shop.Pricing.price/2 --match "[_, q] when q > 30" --args --as big'))).toBe("");
    await k.execute('%%elixir\nfor q <- 1..37, do: Shop.Pricing.price("pear", q)');
    const r = await cellJson(
      k,
      `%disarm big
const big = %events big --wait=5s
console.log(JSON.stringify({ n: big.numRows(), args: big.orderby("start_us").array("args").map((a: any) => a.value) }))`,
    );
    expect(r.n).toBe(7);
    expect(r.args).toEqual([31, 32, 33, 34, 35, 36, 37].map((q) => ["pear", q]));
  });

  it("records exceptions with their class, and nests calls by depth", async () => {
    await k.execute("%probe Shop.Pricing.price --as every_arity");
    await k.execute('%%elixir\ntry do\n  Shop.Pricing.price("fig", 0)\nrescue\n  _ -> :rescued\nend');
    const r = await cellJson(
      k,
      `%disarm every_arity
const ex = %events every_arity --wait=5s
console.log(JSON.stringify(ex.objects().map((o: any) => ({ outcome: o.outcome, cls: o.exception_class, reason: String(o.exception_reason) }))))`,
    );
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ outcome: "exception", cls: "error" });
    expect(r[0].reason).toMatch(/function_clause|FunctionClauseError/);
  });

  it("lists probes with what they saw and why they ended", async () => {
    const rows = await cellJson(k, 'const probes1 = %probes\nconsole.log(JSON.stringify(probes1.objects().filter((o: any) => o.name === "prices")))');
    expect(rows).toEqual([expect.objectContaining({ name: "prices", state: "ended", seen: 37, dropped: 0, why_ended: "disarmed" })]);
  });

  it("streams probe statuses to a frontend over the elixirlumin.probes comm, which can also disarm", async () => {
    await k.comms(); // forget earlier comm traffic
    await k.send({ op: "request", type: "comm_open", content: { comm_id: "probes-1", target_name: "elixirlumin.probes", data: {} }, no_reply: true });
    await k.execute("%probe Shop.Pricing.unit_price/1 --as via_comm");
    await k.execute('%%elixir\nfor i <- 1..5, do: Shop.Pricing.unit_price("i#{i}")');
    await k.send({ op: "request", type: "comm_msg", content: { comm_id: "probes-1", data: { action: "disarm", name: "via_comm" } }, no_reply: true });
    const data = (await k.comms(2)).messages.filter((m) => m.content.comm_id === "probes-1").map((m) => m.content.data);
    expect(data[0]).toMatchObject({ event: "probes" });
    expect(data).toContainEqual({ event: "disarmed", name: "via_comm" });
    const statuses = data.filter((d) => d.event === "status" && d.probe.name === "via_comm").map((d) => d.probe);
    expect(statuses[0]).toMatchObject({ state: "armed" });
    expect(statuses.at(-1)).toMatchObject({ state: "ended", why_ended: "disarmed", seen: 5 });
  });

  it("answers bad input with clear errors and creates no atom on the node", async () => {
    const atoms = async () => cellJson<number>(k, "const atoms1 = %erlang erlang:system_info(atom_count).\nconsole.log(JSON.stringify(atoms1))");
    // Each run names things that exist nowhere yet; the first run also loads whatever code error paths use.
    const badRun = async (tag: string) => {
      expect(await cellError(k, `%probe Shop.NoSuchModule${tag}.run/1`)).toMatch(/no such module|not loaded|no module/i);
      expect(await cellError(k, `%probe Shop.Pricing.no_such_fun_${tag}/2`)).toMatch(new RegExp(`Shop\\.Pricing has no function no_such_fun_${tag}/2`));
      expect(await cellError(k, "%probe Shop.Pricing.price/two")).toMatch(/MFA|arity/i);
      expect(await cellError(k, "%probe this is not an mfa")).toMatch(/MFA|usage|%probe/i);
      expect(await cellError(k, '%probe Shop.Pricing.price/2 --match "[x, y] when x >"')).toMatch(/pattern/i);
      expect(await cellError(k, `%probe Shop.Pricing.price/2 --match "[:never_seen_atom_${tag}, _]"`)).toMatch(new RegExp(`never_seen_atom_${tag}`));
      expect(await cellError(k, `%state no_such_process_${tag}`)).toMatch(new RegExp(`no_such_process_${tag}`));
    };
    await badRun("warmup");
    await atoms(); // the first evaluation loads the node's printing code: not ours to count
    const before = await atoms();
    await badRun("zq7");
    expect(await atoms()).toBe(before);
    // The kernel and the node still work after all that.
    expect(texts(await k.execute("%%elixir\n1 + 1"), "display_data")).toEqual(["2"]);
  });

  it("cuts a huge argument on the node instead of shipping it", async () => {
    await k.execute("%probe Shop.Pricing.unit_price/1 --args --as huge");
    await k.execute('%%elixir\nShop.Pricing.unit_price(String.duplicate("x", 1_000_000))');
    const r = await cellJson(k, `%disarm huge
const huge = %events huge --wait=5s
console.log(JSON.stringify({ n: huge.numRows(), arg: String(huge.get("args", 0)).slice(0, 200), len: String(huge.get("args", 0)).length }))`);
    expect(r.n).toBe(1);
    expect(r.len).toBeLessThan(10_000);
    expect(r.arg).toMatch(/cut|bytes/i);
  });
});

describe("a plain erl node (no Elixir)", () => {
  let target: ErlNode;
  let k: KernelClient;

  beforeAll(async () => {
    target = await ErlNode.start("plain");
    k = await startKernel({ env: { LUMIN_TEST_COOKIE: target.cookie, LUMIN_BAD_COOKIE: "WRONGCOOKIE" } });
  }, 60_000);
  afterAll(async () => {
    await k?.shutdown();
    target?.stop();
  });

  it("fails within 5 s with the likely cause for an unknown node and a wrong cookie", async () => {
    let t0 = Date.now();
    expect(await cellError(k, `%connect nosuchnode_zq5@${target.node.split("@")[1]} --cookie-env LUMIN_TEST_COOKIE`)).toMatch(/not registered|epmd/i);
    expect(Date.now() - t0).toBeLessThan(5_000);
    t0 = Date.now();
    const err = await cellError(k, `%connect ${target.node} --cookie-env LUMIN_BAD_COOKIE`);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err).toMatch(/cookie/i);
    expect(err).not.toContain("WRONGCOOKIE");
  });

  it("asks for the cookie with a password prompt when no flag names one, and keeps it out of every output", async () => {
    const r = await k.execute(`%connect ${target.node}`, { inputs: [target.cookie] });
    expect(r.prompts).toEqual([{ prompt: expect.stringMatching(/cookie/i), password: true }]);
    expect(stdout(r)).toMatch(/OTP \d+, no Elixir/);
    expect(JSON.stringify(r.messages)).not.toContain(target.cookie);
    const history = await k.request("history_request", { hist_access_type: "tail", n: 50, output: true, raw: true });
    expect(JSON.stringify(history.reply.content)).not.toContain(target.cookie);
    await k.execute("%disconnect");
  });

  it("attaches, evaluates Erlang, and probes an OTP function", async () => {
    const r = await k.execute(`%connect ${target.node} --cookie-env LUMIN_TEST_COOKIE`);
    expect(stdout(r)).toMatch(/OTP \d+, no Elixir/);
    expect(stdout(r)).not.toContain(target.cookie);
    expect(texts(await k.execute("%%erlang\nlists:sum(lists:seq(1, 10))."), "display_data")).toEqual(["55"]);
    await k.execute("%probe lists:seq/2 --as seqs");
    await k.execute("%%erlang\n[length(lists:seq(1, N)) || N <- [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]].");
    const rows = await cellJson(k, `%disarm seqs
const seqs = %events seqs --wait=5s
console.log(JSON.stringify({ n: seqs.numRows(), modules: [...new Set(seqs.array("module"))], lens: seqs.orderby("start_us").array("result").map((r: any) => (r?.value ? r.value.length : String(r))) }))`);
    expect(rows).toEqual({ n: 12, modules: ["lists"], lens: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
    expect(await attachedNode(k)).toBe(target.node);
  });

  it("disarms a probe on a tight loop by its rate budget, while the node stays responsive and small", async () => {
    const memBefore = Number(target.eval("erlang:memory(total)"));
    await k.execute("%%erlang\nLoop = fun L() -> _ = lists:seq(1, 3), L() end, register(lumin_test_loop, spawn(Loop)), ok.");
    // RPC latency measured from outside while the probe is armed and disarms.
    const rpcs = rpcLatencies(target, 30);
    // A count budget raised past the safe range (--unsafe): the rate budget still ends the probe.
    const arm = await k.execute("%probe lists:seq/2 --as loop --limit 10000000 --unsafe");
    expect(stdout(arm) + texts(arm, "display_data").join("")).not.toMatch(/error/i);
    const r = await cellJson(k, `const loop = %events loop --wait=10s
const loopProbes = %probes
console.log(JSON.stringify(loopProbes.objects().filter((o: any) => o.name === "loop")))`);
    expect(r[0]).toMatchObject({ state: "ended", why_ended: "rate" });
    const latencies = await rpcs;
    expect(Math.max(...latencies)).toBeLessThan(100);
    const memAfter = Number(target.eval("erlang:memory(total)"));
    expect(memAfter - memBefore).toBeLessThan(50 * 1024 * 1024);
    target.eval("exit(whereis(lumin_test_loop), kill)");
  });

  it("leaves nothing behind on the node within 5 s when the kernel is killed with a probe armed", async () => {
    const k2 = await startKernel({ env: { LUMIN_TEST_COOKIE: target.cookie } });
    try {
      await k.execute("%disconnect");
      await k2.execute(`%connect ${target.node} --cookie-env LUMIN_TEST_COOKIE`);
      await k2.execute("%probe lists:seq/2 --as armed --for 600s");
      expect(target.eval("whereis(lumin_agent) =/= undefined")).toBe("true");
      expect(target.eval("erlang:trace_info({lists, seq, 2}, traced)")).toBe("{traced,local}");
      const killedAt = Date.now();
      process.kill(k2.pid, "SIGKILL");
      await waitFor(() => cleanState(target), 5_000, "the target to be clean");
      expect(Date.now() - killedAt).toBeLessThan(5_000);
    } finally {
      await k2.shutdown().catch(() => undefined);
    }
  });
});

/** No agent process, no agent module, no trace pattern, no traced process: what a killed kernel leaves. */
function cleanState(target: ErlNode): boolean {
  const state = target.eval(
    "{whereis(lumin_agent), [M || {M, _} <- code:all_loaded(), lists:prefix(\"lumin\", atom_to_list(M))], " +
      "erlang:trace_info({lists, seq, 2}, traced), erlang:trace_info(new, flags), " +
      "[P || P <- processes(), element(2, erlang:trace_info(P, flags)) =/= []]}",
  );
  return state === "{undefined,[],{traced,false},{flags,[]},[]}";
}

/** `count` RPCs to the target from a separate node, 50 ms apart: each one's round trip in ms. */
async function rpcLatencies(target: ErlNode, count: number): Promise<number[]> {
  const out = await checkerRun(
    target.node,
    target.cookie,
    `pong = net_adm:ping(Node), [begin timer:sleep(50), T0 = erlang:monotonic_time(microsecond), _ = rpc:call(Node, erlang, memory, [total], 5000), erlang:monotonic_time(microsecond) - T0 end || _ <- lists:seq(1, ${count})]`,
  );
  return JSON.parse(out).map((us: number) => us / 1000);
}

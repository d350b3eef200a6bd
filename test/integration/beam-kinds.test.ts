/**
 * The probe kinds other than calls (issue 4), end to end through a real Jupyter client: `%probe --messages`,
 * `--state`, `--procs`, `--logs`, `--telemetry`, `--metrics` on real nodes — the sample shop app for the
 * OTP kinds, a plain `erl` node for kernel death and a message flood — each driven through a known
 * sequence, with the rows asserted exactly.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKernel, stdout, texts, type KernelClient } from "../support/jupyter";
import { cellError, cellJson, erlEvalOn, ErlNode, uniqueName, waitFor, elixirCell, startShopKernel } from "../support/beam";

let k: KernelClient;
const SHOP = uniqueName("kinds");

/** Run a %%elixir cell on the shop node; its result as the node's inspect text. */
const ex = (code: string) => elixirCell(k, code);

/** Run a cell that arms a probe; fails the test with the cell's error if it does not arm. */
async function arm(line: string): Promise<void> {
  const r = await k.execute(line);
  const err = r.messages.find((m) => m.msg_type === "error");
  if (err) throw new Error(`${line}: ${err.content.evalue}`);
}

/** Disarm a probe and give its rows (terms as their plain values, or as text where asked) and status. */
async function rowsOf<T = Record<string, any>>(name: string, asText: string[] = []): Promise<{ rows: T[]; status: any }> {
  return cellJson(k, `%disarm ${name}
const t_${name} = %events ${name} --wait=5s
{
  const asText = new Set(${JSON.stringify(asText)});
  const rows = t_${name}.objects().map((r: any) => Object.fromEntries(Object.entries(r).map(([c, v]: [string, any]) =>
    [c, v && typeof v === "object" && "bytes" in v ? (asText.has(c) ? String(v) : v.value) : v])));
  const s = %probes
  const status = s.objects().find((p: any) => p.name === ${JSON.stringify(name)});
  console.log(JSON.stringify({ rows, status }, (_k, v) => (typeof v === "bigint" ? Number(v) : v)));
}`);
}

beforeAll(async () => {
  k = await startShopKernel(SHOP);
}, 200_000);

afterAll(async () => {
  await k?.shutdown();
});

describe("%probe --messages", () => {
  it("N calls and M casts to a GenServer: one row per receive and reply, each call paired with its reply", async () => {
    await arm("%probe --messages Shop.Inventory --as msg1");
    const caller = await ex(`for i <- 1..4, do: Shop.Inventory.stock("m#{i}")
for i <- 1..3, do: Shop.Inventory.restock("m#{i}", i)
inspect(self())`);
    const callerPid = caller.replace(/^"#PID(.*)"$/, "$1");
    const { rows, status } = await rowsOf("msg1", ["message"]);

    expect(status).toMatchObject({ kind: "messages", state: "ended", seen: 11, dropped: 0, why_ended: "disarmed" });
    expect(rows.map((r: any) => `${r.event} ${r.protocol}`)).toEqual([
      ...Array(4).fill(["receive call", "send reply"]).flat(),
      ...Array(3).fill("receive cast"),
    ]);
    const inventory = rows[0].to_pid;
    for (const [i, r] of rows.slice(0, 8).entries()) {
      const call = rows[i - (i % 2)];
      expect(r.call_id).toMatch(/^#Ref</);
      expect(r.call_id).toBe(call.call_id);
      if (i % 2 === 0) {
        expect(r).toMatchObject({ from_pid: callerPid, to_pid: inventory, to_name: "Shop.Inventory", latency_us: null });
        expect(r.message).toContain(`{:stock, "m${i / 2 + 1}"}`);
      } else {
        expect(r).toMatchObject({ from_pid: inventory, from_name: "Shop.Inventory", to_pid: callerPid });
        expect(typeof r.latency_us).toBe("number");
        expect(r.latency_us).toBeGreaterThan(0);
        expect(r.latency_us).toBeCloseTo(r.time_us - call.time_us, 0);
        expect(r.message).toMatch(/, 0}$/);
      }
    }
    expect(new Set(rows.slice(0, 8).map((r: any) => r.call_id)).size).toBe(4);
    expect(rows.slice(8).map((r: any) => r.message)).toEqual([1, 2, 3].map((i) => `{:"$gen_cast", {:restock, "m${i}", ${i}}}`));
    for (const r of rows.slice(8)) expect(r).toMatchObject({ from_pid: null, to_name: "Shop.Inventory", call_id: null, latency_us: null });
    for (const r of rows) {
      expect(r.size_words).toBeGreaterThan(0);
      expect(r.node).toBe(`${SHOP}@${r.node.split("@")[1]}`);
    }
  });

  it("a server that calls another: the caller's wait for the reply is the reply row's latency", async () => {
    await ex(`Shop.Inventory.restock("lat", 1000)`);
    await arm("%probe --messages Shop.Orders --as msg2");
    await ex(`for q <- [1, 2, 150], do: Shop.Orders.place("lat", q)`);
    const { rows } = await rowsOf("msg2");
    const otp = rows.filter((r: any) => r.protocol === "call" || r.protocol === "reply");
    // Each order: Orders receives the call, calls Inventory, gets its reply, replies.
    expect(otp.map((r: any) => `${r.event} ${r.protocol} ${r.event === "send" ? r.to_name : r.from_name}`)).toEqual(
      Array(3).fill(["receive call null", "send call Shop.Inventory", "receive reply Shop.Inventory", "send reply null"]).flat(),
    );
    for (let i = 0; i < otp.length; i += 4) {
      const [inCall, outCall, inReply, outReply] = otp.slice(i, i + 4);
      expect(inReply.call_id).toBe(outCall.call_id);
      expect(outReply.call_id).toBe(inCall.call_id);
      expect(inReply.call_id).not.toBe(inCall.call_id);
      expect(inReply.latency_us).toBeCloseTo(inReply.time_us - outCall.time_us, 0);
      expect(outReply.latency_us).toBeCloseTo(outReply.time_us - inCall.time_us, 0);
      expect(outReply.latency_us).toBeGreaterThan(inReply.latency_us);
    }
    // The order of 150 units takes the 20–40 ms "manual review" before it calls Inventory: its caller waited
    // at least that much longer than Orders itself waited for Inventory.
    expect(otp[11].latency_us - otp[10].latency_us).toBeGreaterThan(20_000);
  });
  it("app:shop traces every process of the application: a call between two of them shows on both sides", async () => {
    await ex(`Shop.Inventory.restock("app", 10)`);
    await arm("%probe --messages app:shop --as msg3");
    await ex(`Shop.Orders.place("app", 2)`);
    const { rows, status } = await rowsOf("msg3");
    expect(status).toMatchObject({ kind: "messages", target: "--messages app:shop", dropped: 0 });
    const otp = rows.filter((r: any) => r.protocol === "call" || r.protocol === "reply").sort((a: any, b: any) => a.time_us - b.time_us);
    const who = (r: any) => (r.event === "send" ? r.from_name : r.to_name);
    expect(otp.map((r: any) => `${who(r)} ${r.event} ${r.protocol}`)).toEqual([
      "Shop.Orders receive call",
      "Shop.Orders send call",
      "Shop.Inventory receive call",
      "Shop.Inventory send reply",
      "Shop.Orders receive reply",
      "Shop.Orders send reply",
    ]);
    expect(new Set(otp.slice(1, 5).map((r: any) => r.call_id)).size).toBe(1);
    expect(otp[5].call_id).toBe(otp[0].call_id);
    expect(otp[2].from_name).toBe("Shop.Orders");
  });
  it("a receive … after loop: %events leaves its timeout rows out and says how many; --timeouts shows them", async () => {
    await ex(`pid = spawn(fn ->
  loop = fn loop -> receive do :stop -> :ok; _ -> loop.(loop) after 10 -> loop.(loop) end end
  loop.(loop)
end)
Process.register(pid, LuminKinds.Poller)`);
    await arm("%probe --messages LuminKinds.Poller --as poll1");
    await ex(`for i <- 1..3, do: send(LuminKinds.Poller, {:hello, i})
Process.sleep(300)`);
    await k.execute("%disarm poll1");
    const eventsOf = (table: string) => `console.log(JSON.stringify(${table}.objects().map((r: any) => r.event)))\n${table}`;
    const byDefault = await k.execute(`const poll_t = %events poll1 --wait=5s\n${eventsOf("poll_t")}`);
    const withTimeouts = await k.execute(`const poll_all = %events poll1 --timeouts\n${eventsOf("poll_all")}`);
    const status = await cellJson(k, `const poll_p = %probes\nconsole.log(JSON.stringify(poll_p.objects().find((p: any) => p.name === "poll1")))`);
    // A magic given the probe's name sees what %events shows; a table named in TypeScript is taken as it is.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumin-poll-"));
    const savedByName = stdout(await k.execute(`%capture save poll1 ${path.join(dir, "poll1.arrow")}`));
    const savedAll = stdout(await k.execute(`%capture save poll_all ${path.join(dir, "poll_all.arrow")}`));
    fs.rmSync(dir, { recursive: true, force: true });
    await ex(`send(LuminKinds.Poller, :stop)`);

    // By default: the three messages only, and a caption line counting what was left out.
    expect(JSON.parse(stdout(byDefault).trim())).toEqual(["receive", "receive", "receive"]);
    const caption = texts(byDefault, "execute_result")[0];
    const hidden = Number(caption.match(/^([\d,]+) timeout rows hidden — %events poll1 --timeouts shows them$/m)?.[1].replace(/,/g, ""));
    expect(hidden).toBeGreaterThanOrEqual(5); // one every 10 ms for 0.3 s, on a busy machine fewer
    expect(texts(byDefault, "execute_result", "text/html")[0]).toContain(`${hidden} timeout rows hidden`);
    // --timeouts: every row the probe kept, the same timeouts counted, no caption line about hidden rows.
    const all: string[] = JSON.parse(stdout(withTimeouts).trim());
    expect(all.filter((e) => e === "timeout").length).toBe(hidden);
    expect(all.filter((e) => e !== "timeout")).toEqual(["receive", "receive", "receive"]);
    expect(texts(withTimeouts, "execute_result")[0]).not.toContain("hidden");
    expect(status).toMatchObject({ kind: "messages", state: "ended", seen: 3 + hidden, dropped: 0 });
    expect(savedByName).toMatch(/^Saved 3 rows of poll1 /);
    expect(savedAll).toMatch(new RegExp(`^Saved ${3 + hidden} rows of poll_all `));
  });
});

describe("%probe --state", () => {
  it("N calls and M casts: N+M rows with the exact state before and after, and each call's reply", async () => {
    const before = await cellJson(k, `const s0_inv = %state Shop.Inventory\nconsole.log(JSON.stringify(s0_inv.value))`);
    await arm("%probe --state Shop.Inventory --as st1");
    await ex(`Shop.Inventory.restock("st_apple", 5)
Shop.Inventory.restock("st_pear", 2)
a = Shop.Inventory.reserve("st_apple", 2)
b = Shop.Inventory.reserve("st_apple", 9)
Shop.Inventory.restock("st_pear", 1)
c = Shop.Inventory.stock("st_apple")
{a, b, c}`);
    const { rows, status } = await rowsOf("st1");
    expect(status).toMatchObject({ kind: "state", seen: 6, dropped: 0, why_ended: "disarmed" });

    const s0 = before as Record<string, number>;
    const s1 = { ...s0, st_apple: 5 };
    const s2 = { ...s1, st_pear: 2 };
    const s3 = { ...s2, st_apple: 3 };
    const s5 = { ...s3, st_pear: 3 };
    expect(rows.map((r: any) => [r.seq, r.kind, r.message, r.state_before, r.state_after, r.reply])).toEqual([
      [0, "cast", ["restock", "st_apple", 5], s0, s1, null],
      [1, "cast", ["restock", "st_pear", 2], s1, s2, null],
      [2, "call", ["reserve", "st_apple", 2], s2, s3, "ok"],
      [3, "call", ["reserve", "st_apple", 9], s3, s3, ["error", "out_of_stock"]],
      [4, "cast", ["restock", "st_pear", 1], s3, s5, null],
      [5, "call", ["stock", "st_apple"], s5, s5, 3],
    ]);
    // What each message changed, by key, in the node's syntax.
    expect(rows.map((r: any) => r.state_diff)).toEqual([
      '["st_apple"]: added 5', '["st_pear"]: added 2', '["st_apple"]: 5 → 3', "(unchanged)", '["st_pear"]: 2 → 3', "(unchanged)",
    ]);
    for (const r of rows as any[]) {
      expect(r).toMatchObject({ name: "Shop.Inventory", state_name_before: null, state_name_after: null });
      expect(r.duration_us).toBeGreaterThanOrEqual(0);
      expect(r.duration_us).toBeLessThan(1_000_000);
    }
    const times = rows.map((r: any) => r.time_us);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("a gen_statem: state names before and after, replies, and its data", async () => {
    await ex(`defmodule LuminDoor do
  @behaviour :gen_statem
  def callback_mode, do: :state_functions
  def init(n), do: {:ok, :locked, n}
  def locked({:call, from}, {:unlock, code}, n), do: {:next_state, :open, n + code, [{:reply, from, :opened}]}
  def locked(:cast, :knock, n), do: {:keep_state, n + 1}
  def open(:cast, :lock, n), do: {:next_state, :locked, n * 2}
  def open(:info, :wind, n), do: {:keep_state, n + 100}
  def open({:call, from}, :status, n), do: {:keep_state_and_data, [{:reply, from, {:open, n}}]}
end
{:ok, _} = :gen_statem.start({:local, :lumin_door}, LuminDoor, 0, [])`);
    await arm("%probe --state lumin_door --as st3");
    await ex(`:gen_statem.cast(:lumin_door, :knock)
:opened = :gen_statem.call(:lumin_door, {:unlock, 5})
send(:lumin_door, :wind)
{:open, 106} = :gen_statem.call(:lumin_door, :status)
:gen_statem.cast(:lumin_door, :lock)
{:locked, 212} = :sys.get_state(:lumin_door)`);
    const { rows } = await rowsOf("st3");
    expect(rows.map((r: any) => [r.seq, r.kind, r.message, r.state_name_before, r.state_name_after, r.reply])).toEqual([
      [0, "cast", "knock", "locked", "locked", null],
      [1, "call", ["unlock", 5], "locked", "open", "opened"],
      [2, "info", "wind", "open", "open", null],
      [3, "call", "status", "open", "open", ["open", 106]],
      [4, "cast", "lock", "open", "locked", null],
    ]);
    // gen_statem's debug events carry no data: it is read right after each event, so it can already include
    // the next ones (0 → 1 → 6 → 106 → 106 → 212 when the process is not ahead of the probe). It starts and
    // ends exact, never goes back, and each row starts where the previous one ended.
    const data = rows.map((r: any) => [r.state_before, r.state_after]);
    expect(data[0][0]).toBe(0);
    expect(data[4][1]).toBe(212);
    for (let i = 1; i < 5; i++) expect(data[i][0]).toBe(data[i - 1][1]);
    for (const [before, after] of data) expect([0, 1, 6, 106, 212].indexOf(after)).toBeGreaterThanOrEqual([0, 1, 6, 106, 212].indexOf(before));
  });

  it("a gen_event manager (a :sys process that is not a gen_server): each event with the state after it", async () => {
    await ex(`defmodule LuminTally do
  @behaviour :gen_event
  def init(n), do: {:ok, n}
  def handle_event(k, n), do: {:ok, n + k}
  def handle_call(:get, n), do: {:ok, n, n}
end
{:ok, _} = :gen_event.start({:local, :lumin_tally})
:ok = :gen_event.add_handler(:lumin_tally, LuminTally, 10)`);
    await arm("%probe --state lumin_tally --as st4");
    // One cell per event: the probe reads the state after each before the next comes (a cell takes milliseconds).
    for (const step of [":gen_event.notify(:lumin_tally, 1)", ":gen_event.notify(:lumin_tally, 2)", "13 = :gen_event.call(:lumin_tally, LuminTally, :get)", ":gen_event.sync_notify(:lumin_tally, 4)"]) await ex(step);
    const { rows } = await rowsOf("st4", ["message", "state_before", "state_after"]);
    const handlers = (n: number) => `[{LuminTally, false, ${n}}]`;
    expect(rows.map((r: any) => [r.seq, r.kind, r.message, r.state_before, r.state_after, r.duration_us, r.reply])).toEqual([
      [0, "info", "{:notify, 1}", handlers(10), handlers(11), null, null],
      [1, "info", "{:notify, 2}", handlers(11), handlers(13), null, null],
      [2, "info", expect.stringMatching(/, \{:call, LuminTally, :get\}\}$/), handlers(13), handlers(13), null, null],
      [3, "info", expect.stringMatching(/, \{:sync_notify, 4\}\}$/), handlers(13), handlers(17), null, null],
    ]);
    // A handler's state by its position in the list of handlers, then in its {module, id, state} tuple.
    expect(rows.map((r: any) => r.state_diff)).toEqual(["[1].3: 10 → 11", "[1].3: 11 → 13", "(unchanged)", "[1].3: 13 → 17"]);
  });

  it("a process that does not answer :sys is refused with a clear message", async () => {
    await ex(`pid = spawn(fn -> receive do :never -> :ok end end)
Process.register(pid, :lumin_not_otp)`);
    const msg = await cellError(k, "%probe --state lumin_not_otp --as st2");
    expect(msg).toMatch(/did not answer a sys request within 1 s: a state probe needs a gen_server, gen_statem/);
    await ex(`Process.exit(Process.whereis(:lumin_not_otp), :kill)`);
  });
});

describe("%probe --logs", () => {
  it("K warnings: K rows with level, pid, MFA, file, line and the formatted message; lower levels left out", async () => {
    await arm("%probe --logs warning --as lg1");
    const ordersPid = await ex(`require Logger
Logger.info("an info line the probe leaves out")
for i <- 1..4, do: {:error, :out_of_stock} = Shop.Orders.place("lg_none_#{i}", i)
inspect(Process.whereis(Shop.Orders))`);
    const { rows, status } = await rowsOf("lg1");
    expect(status).toMatchObject({ kind: "logs", seen: 4, dropped: 0 });
    expect(rows.map((r: any) => r.message)).toEqual([1, 2, 3, 4].map((i) => `order of ${i} lg_none_${i} refused: out_of_stock`));
    for (const r of rows as any[]) {
      expect(r).toMatchObject({ level: "warning", pid: ordersPid.replace(/^"#PID(.*)"$/, "$1"), mfa: "Shop.Orders.handle_call/3" });
      expect(r.file).toMatch(/lib\/shop\/orders\.ex$/);
      expect(r.line).toBeGreaterThan(0);
      expect(r.metadata).toMatchObject({ domain: ["elixir"] });
    }
    // The handler is gone: a second logs probe arms.
    await arm("%probe --logs error --as lg2");
    await k.execute("%disarm lg2");
  });
});

describe("%probe --procs", () => {
  it("a child crashed K times under its supervisor: K exit rows with the reason, K restarts", async () => {
    await arm("%probe --procs Shop.Supervisor --as pr1");
    const K = 3;
    const crashed = await ex(`for _ <- 1..${K} do
  old = Process.whereis(Shop.Flaky)
  Shop.Flaky.crash()
  Enum.find_value(1..200, fn _ -> (p = Process.whereis(Shop.Flaky)) && p != old && p || (Process.sleep(10); nil) end)
  inspect(old)
end`);
    const oldPids = [...crashed.matchAll(/#PID(<[\d.]+>)/g)].map((m) => m[1]);
    expect(oldPids).toHaveLength(K);
    const { rows, status } = await rowsOf("pr1", ["reason"]);
    expect(status).toMatchObject({ kind: "procs", dropped: 0 });

    const exits = rows.filter((r: any) => r.event === "exit");
    expect(exits.map((r: any) => r.pid)).toEqual(oldPids);
    for (const r of exits as any[]) expect(r.name).toBe("Shop.Flaky");
    for (const r of exits as any[]) expect(r.reason).toMatch(/^\{%RuntimeError\{(__exception__: true, )?message: "crashed on purpose"\}, \[\{Shop.Flaky, :handle_cast, 2,/);
    const spawns = rows.filter((r: any) => r.event === "spawn");
    expect(spawns).toHaveLength(K);
    for (const r of spawns as any[]) expect(r).toMatchObject({ name: "Shop.Supervisor", mfa: "Shop.Flaky.init/1" });
    const registers = rows.filter((r: any) => r.event === "register");
    expect(registers.map((r: any) => r.pid)).toEqual(spawns.map((r: any) => r.other));
    for (const r of registers as any[]) expect(r.other).toBe("Shop.Flaky");
    const unregisters = rows.filter((r: any) => r.event === "unregister");
    expect(unregisters.map((r: any) => [r.pid, r.other])).toEqual(oldPids.map((p) => [p, "Shop.Flaky"]));
    const links = rows.filter((r: any) => r.event === "link");
    expect(links.map((r: any) => [r.name, r.other])).toEqual(spawns.map((r: any) => ["Shop.Supervisor", r.other]));
    expect(rows).toHaveLength(5 * K);
    // The new children are the pids that crashed next.
    expect(spawns.slice(0, K - 1).map((r: any) => r.other)).toEqual(oldPids.slice(1));
  });
});

describe("%probe --telemetry", () => {
  it("is refused with a clear message on a node without the telemetry library", async () => {
    const msg = await cellError(k, "%probe --telemetry shop.order.placed --as tm1");
    expect(msg).toMatch(/has no :telemetry library loaded/);
    expect(msg).toMatch(/a telemetry probe needs an application that emits :telemetry events/);
  });

  it("with a :telemetry module on the node, one row per event with its measurements and metadata", async () => {
    // A minimal stand-in for the telemetry library (attach_many/4, detach/1, execute/3), defined on the node.
    await ex(`defmodule :telemetry do
  def attach_many(id, events, fun, config) do
    :persistent_term.put({:lumin_test_telemetry, id}, {events, fun, config})
    :ok
  end
  def detach(id), do: (:persistent_term.erase({:lumin_test_telemetry, id}); :ok)
  def execute(event, meas, meta) do
    for {{:lumin_test_telemetry, _}, {events, fun, config}} <- :persistent_term.get(), event in events,
        do: fun.(event, meas, meta, config)
    :ok
  end
end`);
    try {
      await arm("%probe --telemetry shop.order.placed --as tm2");
      await ex(`Shop.Inventory.restock("tm", 100)
for q <- 1..3, do: Shop.Orders.place("tm", q)`);
      const { rows } = await rowsOf("tm2");
      const orders = await ex("inspect(Process.whereis(Shop.Orders))");
      expect(rows.map((r: any) => [r.event, r.measurements.qty, r.metadata])).toEqual([1, 2, 3].map((q) => ["[:shop, :order, :placed]", q, { item: "tm" }]));
      for (const r of rows as any[]) expect(r.pid).toBe(orders.replace(/^"#PID(.*)"$/, "$1"));
      expect(await ex(`for {{:lumin_test_telemetry, _}, _} <- :persistent_term.get(), do: 1`)).toBe("[]");
    } finally {
      await ex(`:code.purge(:telemetry); :code.delete(:telemetry); :code.purge(:telemetry)`);
    }
  });
});

describe("%probe --metrics", () => {
  it("samples every --every with sane values, on the interval's grid, and ends on its time budget", async () => {
    await arm("%probe --metrics --every 200ms --for 2100ms --as mt1");
    const rows = await cellJson<any[]>(k, `const m_rows = %events mt1 --wait=5s
console.log(JSON.stringify(m_rows.objects()))`);
    const s = await cellJson<any>(k, `const p_list = %probes\nconsole.log(JSON.stringify(p_list.objects().find((p: any) => p.name === "mt1")))`);
    expect(s).toMatchObject({ state: "ended", why_ended: "time" });
    // Ticks at 200, 400, … 2000 ms: 10 samples, give or take the one at the edge of the time budget.
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expect(rows.length).toBeLessThanOrEqual(11);
    // No drift: the last sample is a whole number of intervals after the first (a sampler that waits the
    // interval after each sample's work falls behind by that work every time).
    const span = rows[rows.length - 1].time_us - rows[0].time_us;
    expect(Math.abs(span - (rows.length - 1) * 200_000)).toBeLessThan(30_000);
    for (const [i, r] of rows.entries()) {
      if (i > 0) expect(Math.abs(r.time_us - rows[i - 1].time_us - 200_000)).toBeLessThan(60_000);
      expect(r.memory_total).toBeGreaterThan(r.memory_processes);
      for (const c of ["memory_processes", "memory_binary", "memory_ets", "memory_atom", "memory_code"]) expect(r[c]).toBeGreaterThan(0);
      expect(r.memory_total).toBeGreaterThan(r.memory_processes + r.memory_ets + r.memory_code);
      expect(r.process_count).toBeGreaterThan(30);
      expect(r.process_count).toBeLessThan(1000);
      expect(r.port_count).toBeGreaterThan(0);
      expect(r.run_queue).toBeGreaterThanOrEqual(0);
      expect(r.scheduler_utilization).toBeGreaterThanOrEqual(0);
      expect(r.scheduler_utilization).toBeLessThanOrEqual(1);
      expect(r.reductions_per_s).toBeGreaterThan(0);
      expect(r.io_in_bytes_per_s).toBeGreaterThanOrEqual(0);
      expect(r.io_out_bytes_per_s).toBeGreaterThanOrEqual(0);
    }
    expect(Math.abs(rows[0].time_us / 1000 - Date.now())).toBeLessThan(60_000);
  });
});

describe("a message probe on a plain erl node", () => {
  let target: ErlNode;
  let k2: KernelClient;
  const COOKIE_VAR = "LUMIN_KINDS_COOKIE";

  /** What ElixirLumin left on the target: lumin modules, traced processes, agent processes, the `new` tracer. */
  const LEFT_OVER = [
    "{[M || {M, _} <- code:all_loaded(), lists:prefix(\"lumin\", atom_to_list(M))]",
    "[P || P <- processes(), {tracer, T} <- [erlang:trace_info(P, tracer)], T =/= []]",
    "[P || P <- processes(), {current_function, {M, _, _}} <- [erlang:process_info(P, current_function)], lists:prefix(\"lumin\", atom_to_list(M))]",
    "erlang:trace_info(new, tracer), whereis(lumin_agent)}",
  ].join(", ");
  const CLEAN = "{[],[],[],{tracer,[]},undefined}";

  beforeAll(async () => {
    target = await ErlNode.start("kinds_erl");
    k2 = await startKernel({ env: { [COOKIE_VAR]: target.cookie } });
    const r = await k2.execute(`%connect ${target.node} --cookie-env ${COOKIE_VAR}`);
    expect(stdout(r)).toContain(`Attached to ${target.node}`);
    const sink = await k2.execute(`%%erlang
Sink = spawn(fun Loop() -> receive stop -> ok; _ -> Loop() end end),
register(lumin_sink, Sink).`);
    expect(texts(sink, "display_data")).toEqual(["true"]);
  }, 120_000);

  afterAll(async () => {
    try {
      await k2?.shutdown();
    } catch {
      /* killed by the test */
    }
    target?.stop();
  });

  it("a flood of messages ends the probe on a budget (its rate, or the watched mailbox) while the node keeps answering", async () => {
    const r = await k2.execute("%probe --messages lumin_sink --limit 100000000 --unsafe --rate 5000/s --as flood");
    expect(r.messages.find((m) => m.msg_type === "error")).toBeUndefined();
    // The flood starts, and the cell waits for the probe to end: how long that took is measured in the kernel.
    await k2.execute("const floodStart = Date.now()");
    const flood = await k2.execute(`%%erlang
register(lumin_flooder, spawn(fun F() -> lumin_sink ! flood, F() end)).`);
    expect(flood.messages.find((m) => m.msg_type === "error")).toBeUndefined();
    const ended = await k2.execute(`const flood_t = %events flood --wait=20s
const flood_p = %probes
console.log(JSON.stringify({ tookMs: Date.now() - floodStart, rows: flood_t.numRows(), status: flood_p.objects().find((p: any) => p.name === "flood") }))
flood_t`);
    const status = JSON.parse(stdout(ended).trim());
    // Whichever budget the flood spends first ends it: its rate, or (on a busy machine, where the sink falls behind
    // the flooder at once) the watched process's mailbox growing while traced.
    expect(status.status).toMatchObject({ kind: "messages", state: "ended" });
    expect(["rate", "overload"]).toContain(status.status.why_ended);
    // Not a speed figure (`npm run bench` measures those): only that a budget ended it, well before the cell's --wait=20s would have, even on a loaded two-core CI machine (3.6 s seen).
    expect(status.tookMs).toBeLessThan(10_000);
    const caption = texts(ended, "execute_result")[0];
    if (status.status.why_ended === "rate") expect(caption).toMatch(/ended \((rate: )?rate budget of 5000 messages\/s exceeded \(\d+\/s\)(; stopped at the source)?\)/); // by the watchdog or the probe's own tick, whichever sees it first
    else expect(caption).toMatch(/ended \((overload: )?the watched process's mailbox grew by \d+ messages while traced/);
    // Rows up to the moment the watchdog stopped the flood at its source; what was queued then is dropped, counted.
    expect(status.rows).toBeGreaterThan(0);
    expect(status.status.seen).toBe(status.rows);
    expect(status.status.dropped).toBeGreaterThan(0);
    // The flood goes on; the node answers an RPC from another node and a cell, and the sink is no longer traced.
    expect(target.eval("{is_process_alive(whereis(lumin_flooder)), erlang:trace_info(whereis(lumin_sink), tracer)}")).toBe("{true,{tracer,[]}}");
    const alive = await k2.execute("%erlang erlang:system_info(process_count) > 0");
    expect(texts(alive, "display_data")).toEqual(["true"]);
    expect(target.eval("exit(whereis(lumin_flooder), kill)")).toBe("true");
  });

  it("kernel death (SIGKILL) during messages, procs, state, logs and metrics probes leaves the target clean within 5 s", async () => {
    const t = await k2.execute(`%%erlang
register(lumin_sink2, spawn(fun Loop() -> receive _ -> Loop() end end)),
register(lumin_ticker, spawn(fun T() -> lumin_sink2 ! tick, timer:sleep(5), T() end)),
{ok, _} = gen_event:start({local, lumin_events}),
ok.`);
    expect(texts(t, "display_data")).toEqual(["ok"]);
    for (const line of ["%probe --messages lumin_sink2 --as d1", "%probe --procs lumin_ticker --as d2", "%probe --state lumin_events --as d3", "%probe --logs warning --as d4", "%probe --metrics --every 100ms --as d5"]) {
      const r = await k2.execute(line);
      expect(r.messages.find((m) => m.msg_type === "error"), line).toBeUndefined();
    }
    await k2.execute(`%%erlang
gen_event:notify(lumin_events, hello), logger:warning("before the kernel dies").`);
    let seen: any[] = [];
    await waitFor(async () => (seen = await cellJson<any[]>(k2, `const dying_p = %probes
console.log(JSON.stringify(["d1", "d3", "d4", "d5"].map((n) => dying_p.objects().find((p: any) => p.name === n))))`)).every((p) => p.seen > 0), 10_000, "every probe to see events").catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(seen)}`);
    });
    expect(target.eval("{erlang:trace_info(whereis(lumin_sink2), tracer), lists:member(lumin_log_probe, logger:get_handler_ids())}")).toMatch(/^\{\{tracer,<\d+\.\d+\.\d+>\},true\}$/);

    const killedAt = Date.now();
    process.kill(k2.pid, "SIGKILL");
    let left = "";
    await waitFor(() => (left = target.eval(LEFT_OVER)) === CLEAN, 5_000, "the target to be clean");
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    expect(left).toBe(CLEAN);
    // No logger handler, no sys debug function, scheduler_wall_time off again; the target's processes run on.
    expect(target.eval(`{lists:member(lumin_log_probe, logger:get_handler_ids()),
      element(4, list_to_tuple(element(4, sys:get_status(lumin_events)))), erlang:statistics(scheduler_wall_time)}`)).toBe("{false,[],undefined}");
    expect(target.eval("gen_event:sync_notify(lumin_events, after_death)")).toBe("ok");
    expect(target.eval("{is_process_alive(whereis(lumin_sink2)), is_process_alive(whereis(lumin_ticker))}")).toBe("{true,true}");
  });
});

/**
 * %%elixir / %%erlang against real nodes through jupyter_client: an evaluation dies with its cell (interrupt,
 * timeout, kernel death), what it prints shows in the cell, bindings stay on the node, oversized code is
 * refused before it is sent, and errors read as the user's code would (no evaluator frames, Elixir names).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErlNode, uniqueName, waitFor } from "../support/beam";
import { ofType, startKernel, stdout, texts, type KernelClient } from "../support/jupyter";

const errorOf = (r: { messages: { msg_type: string; content: Record<string, any> }[] }) => ofType(r as never, "error")[0]?.content;

/** The bridge processes a kernel started (its children running LuminBridge.main). */
function bridgePids(kernelPid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return ppid === kernelPid && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("LuminBridge.main");
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether any process on the machine runs a node of short name `name` (booting ones too, before epmd knows them). */
function running(name: string): boolean {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .some((d) => {
      try {
        const args = readFileSync(`/proc/${d}/cmdline`, "latin1").split("\0");
        return args.some((a, i) => (a === "-sname" || a === "--sname") && args[i + 1] === name);
      } catch {
        return false;
      }
    });
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

describe("evaluation on a node the kernel started", () => {
  let k: KernelClient;

  beforeAll(async () => {
    k = await startKernel();
    const r = await k.execute(`%node start ${uniqueName("ev")}`, { timeout: 120 });
    expect(stdout(r)).toMatch(/Attached to/);
  }, 180_000);
  afterAll(async () => {
    await k?.shutdown();
  });

  it("an interrupt stops a sleeping %%elixir within a second, says so, and its process on the node is gone", async () => {
    const started = Date.now();
    const r = await k.execute("%%elixir\nProcess.register(self(), :lumin_sleeper)\nProcess.sleep(15_000)\n:woke_up", { interruptAfter: 3, timeout: 30 });
    const took = Date.now() - started;
    expect(r.reply.content.status).toBe("error");
    expect(errorOf(r).ename).toBe("Interrupted");
    expect(errorOf(r).evalue).toMatch(/evaluation on \S+ was stopped \(its process there was killed\)/);
    expect(took).toBeLessThan(8000);
    expect(texts(await k.execute("%elixir Process.whereis(:lumin_sleeper)"), "display_data").join("")).toBe("nil");
  });

  it("a runaway loop is killed at its timeout: the error says so and the process no longer runs", async () => {
    const r = await k.execute("%%elixir --timeout 2s\nProcess.register(self(), :lumin_spinner)\nStream.repeatedly(fn -> :spin end) |> Stream.run()", { timeout: 30 });
    expect(errorOf(r).evalue).toMatch(/took longer than 2 s and was stopped/);
    const after = await k.execute("%elixir Process.whereis(:lumin_spinner)");
    expect(texts(after, "display_data").join("")).toBe("nil");
  });

  it("what the code prints streams into the cell, in order, before its value", async () => {
    const r = await k.execute('%%elixir\nIO.puts("hello from the node")\n:io.format("erlang says ~p~n", [42])\n:done');
    expect(stdout(r)).toBe("hello from the node\nerlang says 42\n");
    expect(texts(r, "display_data").join("")).toBe(":done");
  });

  it("printing is bounded: a flood shows at most 100 kB and says how much more was printed", async () => {
    const r = await k.execute('%%elixir\nfor i <- 1..200_000, do: IO.puts("line #{i} of a long flood")\n:ok', { timeout: 60 });
    const out = stdout(r);
    expect(out.length).toBeLessThanOrEqual(100_000);
    expect(out.length).toBeGreaterThan(90_000);
    expect(out.startsWith("line 1 of a long flood\n")).toBe(true);
    const err = r.messages.filter((m) => m.msg_type === "stream" && m.content.name === "stderr").map((m) => m.content.text).join("");
    expect(err).toMatch(/output cut: [\d,]+ more bytes/);
  });

  it("bindings stay on the node: after a 5M-element binding, a cheap cell stays cheap and the bridge stays small", async () => {
    expect(texts(await k.execute("%elixir lst = Enum.to_list(1..5_000_000); :ok", { timeout: 60 }), "display_data").join("")).toBe(":ok");
    for (let i = 0; i < 3; i++) expect(texts(await k.execute("%elixir 1 + 1"), "display_data").join("")).toBe("2");
    expect(texts(await k.execute("%elixir length(lst)"), "display_data").join("")).toBe("5000000");
    const [bridge] = bridgePids(k.pid);
    expect(bridge).toBeGreaterThan(0);
    // The list alone is 80 MB on the node; the bridge never holds it.
    expect(rssMb(bridge)).toBeLessThan(150);
  });

  it("a 50 MB cell is refused before anything is sent, with a clear error, and the next cell runs", async () => {
    const r = await k.execute(`%%elixir\nx = "${"a".repeat(50 * 1024 * 1024)}"`, { timeout: 120 });
    expect(errorOf(r).evalue).toMatch(/the cell's code is 50\.0 MB, over the 4 MB a cell may send to a node; nothing was sent/);
    expect(texts(await k.execute("%elixir 1 + 1"), "display_data").join("")).toBe("2");
  });

  it("errors show the user's code, not the evaluator's frames, and name Elixir modules as Elixir does", async () => {
    const r = await k.execute('%%elixir\nString.to_integer("nope")');
    const text = errorOf(r).evalue as string;
    expect(text).toMatch(/ArgumentError/);
    expect(text).not.toMatch(/ParallelChecker|erpc|elixir_eval|lumin_eval|erl_eval/);
    const probe = await k.execute("%probe Shop.Nope.f/1");
    expect(errorOf(probe).evalue).toMatch(/Shop\.Nope/);
    expect(errorOf(probe).evalue).not.toMatch(/Elixir\.Shop/);
  });
});

describe("evaluation on a node the kernel did not start", () => {
  let target: ErlNode;

  beforeAll(async () => {
    target = await ErlNode.start("evtarget");
  });
  afterAll(() => target?.stop());

  it("%disconnect kills an evaluation still running on the node", async () => {
    const k = await startKernel({ env: { EV_TARGET_COOKIE: target.cookie } });
    try {
      expect(stdout(await k.execute(`%connect ${target.node} --cookie-env EV_TARGET_COOKIE`))).toMatch(/Attached to/);
      // An evaluation left running by a cell that did not wait for it (the magic called as a function).
      const left = await k.execute('const pending = __lumin_magic__("erlang", "register(lumin_left, self()), timer:sleep(60000).");\npending.catch(() => undefined);\n0');
      expect(errorOf(left)).toBeUndefined();
      await waitFor(() => target.eval("is_pid(whereis(lumin_left))") === "true", 15_000, "the evaluation to start");
      expect(stdout(await k.execute("%disconnect"))).toMatch(/Detached from/);
      await waitFor(() => target.eval("whereis(lumin_left)") === "undefined", 10_000, "the evaluation to be killed");
    } finally {
      await k.shutdown();
    }
  }, 90_000);

  it("a process a cell left running keeps working after %disconnect: its output goes to the node's own user", async () => {
    const k = await startKernel({ env: { EV_TARGET_COOKIE: target.cookie } });
    try {
      expect(stdout(await k.execute(`%connect ${target.node} --cookie-env EV_TARGET_COOKIE`))).toMatch(/Attached to/);
      const r = await k.execute('%%erlang\nregister(lumin_ticker, spawn(fun L() -> io:format("tick~n"), timer:sleep(50), L() end)).');
      expect(errorOf(r)).toBeUndefined();
      expect(stdout(await k.execute("%disconnect"))).toMatch(/Detached from/);
      await new Promise((res) => setTimeout(res, 1000));
      expect(target.eval("{is_pid(whereis(lumin_ticker)), element(2, erlang:process_info(whereis(lumin_ticker), group_leader)) =:= whereis(user)}")).toBe("{true,true}");
      target.eval("exit(whereis(lumin_ticker), kill)");
    } finally {
      await k.shutdown();
    }
  }, 90_000);

  it("a kernel killed mid-evaluation leaves nothing running on the node", async () => {
    const k = await startKernel({ env: { EV_TARGET_COOKIE: target.cookie } });
    try {
      expect(stdout(await k.execute(`%connect ${target.node} --cookie-env EV_TARGET_COOKIE`))).toMatch(/Attached to/);
      // The cell runs for good (its reply never comes); the kernel is killed while it does.
      const code = "%%erlang\nregister(lumin_runaway, self()), F = fun G(N) -> G(N + 1) end, F(0).";
      await k.send({ op: "request", type: "execute_request", content: { code, silent: false }, no_reply: true, timeout: 1 });
    } catch (e) {
      await k.shutdown();
      throw e;
    }
    await waitFor(() => target.eval("is_pid(whereis(lumin_runaway))") === "true", 15_000, "the runaway evaluation to start");
    process.kill(k.pid, "SIGKILL");
    await waitFor(() => target.eval("whereis(lumin_runaway)") === "undefined", 15_000, "the runaway evaluation to be killed");
    await waitFor(() => target.eval("[M || M <- erlang:loaded(), lists:prefix(\"lumin_\", atom_to_list(M))]") === "[]", 15_000, "the agent to unload");
    await k.shutdown().catch(() => undefined);
  }, 90_000);
});

describe("every magic that waits on a node can be interrupted", () => {
  it("%node start interrupted: the cell ends at once, says so, and the node that comes up later is stopped", async () => {
    const k = await startKernel();
    const name = uniqueName("late");
    const registered = () => execFileSync("epmd", ["-names"], { encoding: "utf8" }).includes(`name ${name} `);
    try {
      const started = Date.now();
      const r = await k.execute(`%node start ${name}`, { interruptAfter: 0.3, timeout: 60 });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(errorOf(r)).toMatchObject({ ename: "Interrupted", evalue: expect.stringMatching(new RegExp(`stopped waiting for ${name} to start`)) });
      // The kernel keeps working, and the late node is not left running.
      expect(texts(await k.execute("1 + 1"), "execute_result")).toEqual(["2"]);
      await waitFor(() => !registered(), 60_000, `${name} to be stopped`);
      expect(texts(await k.execute("const ns1 = %nodes\nns1.numRows()"), "execute_result")).toEqual(["0"]);
    } finally {
      await k.shutdown();
    }
    // A node still booting when the kernel goes (not yet in epmd, so the wait above can pass before it is)
    // stops too: no process of it is left on the machine.
    await waitFor(() => !running(name), 30_000, `no ${name} process left after the kernel's shutdown`);
  }, 120_000);
});

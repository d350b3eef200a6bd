/**
 * Faults around the connection, with real kernels and real nodes: two kernels on one node, a node that goes
 * away (kill -9, System.halt, dropping the kernel), cookies kept out of command lines, environments and
 * errors, and both naming modes from one kernel.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendants, ErlNode, erlEvalOn, randomCookie, uniqueName, waitFor } from "../support/beam";
import { ofType, startKernel, stdout, texts, type KernelClient } from "../support/jupyter";

const errorText = (r: Awaited<ReturnType<KernelClient["execute"]>>) => String(ofType(r, "error")[0]?.content.evalue ?? "");
const shown = (r: Awaited<ReturnType<KernelClient["execute"]>>) => texts(r, "display_data").join("") + texts(r, "execute_result").join("");
const agentModules = (n: ErlNode) => n.eval('[M || M <- erlang:loaded(), lists:prefix("lumin_", atom_to_list(M))]');

/** A probe's status as the kernel holds it. */
let asked = 0;
async function probeStatus(k: KernelClient, name: string): Promise<{ state: string; seen: number; why_ended: string | null }> {
  const v = `probeList${++asked}`;
  const rows = await k.execute(`const ${v} = %probes\nconsole.log(JSON.stringify(${v}.objects().find((p: any) => p.name === "${name}")))`);
  return JSON.parse(stdout(rows).trim().split("\n").pop()!);
}

/** A node that calls lists:reverse/1 every 20 ms, so a probe on it keeps counting. */
async function busyNode(prefix: string): Promise<ErlNode> {
  const n = await ErlNode.start(prefix);
  n.eval("spawn(fun() -> (fun L() -> lists:reverse([1,2,3]), timer:sleep(20), L() end)() end)");
  return n;
}

describe("two kernels meet on one node", () => {
  let target: ErlNode;
  let a: KernelClient;
  let b: KernelClient;

  beforeAll(async () => {
    target = await busyNode("shared");
    const env = { SHARED_NODE_COOKIE: target.cookie };
    [a, b] = await Promise.all([startKernel({ env }), startKernel({ env })]);
  });
  afterAll(async () => {
    await Promise.all([a?.shutdown(), b?.shutdown()]);
    target?.stop();
  });

  it("the second kernel is refused with who holds the node, and the first kernel's probe keeps counting", async () => {
    expect(stdout(await a.execute(`%connect ${target.node} --cookie-env SHARED_NODE_COOKIE`))).toMatch(/Attached to/);
    expect(errorText(await a.execute("%probe :lists.reverse/1 --as rev --limit 1000000 --for 5m"))).toBe("");
    await waitFor(async () => (await probeStatus(a, "rev")).seen > 5, 15_000, "the probe to see calls");

    const refused = await b.execute(`%connect ${target.node} --cookie-env SHARED_NODE_COOKIE`);
    expect(errorText(refused)).toMatch(new RegExp(`is held by another ElixirLumin kernel: the kernel with process id ${a.pid} on host ${os.hostname().split(".")[0]}.*attached since \\d{4}-\\d\\d-\\d\\dT.*Nothing was changed on the node`));

    const before = (await probeStatus(a, "rev")).seen;
    await new Promise((r) => setTimeout(r, 1500));
    const after = await probeStatus(a, "rev");
    expect(after.state).toBe("armed");
    expect(after.seen).toBeGreaterThan(before);

    await a.execute("%disconnect");
    await waitFor(() => agentModules(target) === "[]", 15_000, "the agent to unload after the first kernel detached");
    // Now the node is free: the second kernel attaches, and leaves nothing when it detaches.
    expect(stdout(await b.execute(`%connect ${target.node} --cookie-env SHARED_NODE_COOKIE`))).toMatch(/Attached to/);
    await b.execute("%disconnect");
    await waitFor(() => agentModules(target) === "[]", 15_000, "the agent to unload after both kernels detached");
  }, 120_000);

  it("two kernels attaching at the same moment: one attaches, the other is refused, and the winner's agent is whole", async () => {
    const connect = `%connect ${target.node} --cookie-env SHARED_NODE_COOKIE`;
    const [ra, rb] = await Promise.all([a.execute(connect), b.execute(connect)]);
    const attached = [ra, rb].filter((r) => /Attached to/.test(stdout(r)));
    const refused = [ra, rb].map(errorText).filter(Boolean);
    expect(attached).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/is held by another ElixirLumin kernel|is attaching to \S+ at this moment; nothing was changed/);
    const winner = attached[0] === ra ? a : b;
    expect(errorText(await winner.execute("%probe :lists.reverse/1 --as race --limit 1000000 --for 5m"))).toBe("");
    await waitFor(async () => (await probeStatus(winner, "race")).seen > 5, 15_000, "the winner's probe to see calls");
    await winner.execute("%disconnect");
    await waitFor(() => agentModules(target) === "[]", 15_000, "the agent to unload");
  }, 120_000);
});

describe("a node that goes away is noticed", () => {
  let k: KernelClient;
  const nodes: ErlNode[] = [];
  const env: Record<string, string> = {};

  beforeAll(async () => {
    for (const prefix of ["killed", "halted", "dropper"]) nodes.push(await busyNode(prefix));
    nodes.forEach((n, i) => (env[`GONE_COOKIE_${i}`] = n.cookie));
    k = await startKernel({ env });
  });
  afterAll(async () => {
    await k?.shutdown();
    nodes.forEach((n) => n.stop());
  });

  it("kill -9 mid-probe: %nodes marks it down, its probe ends with node_down and the time, its rows are kept", async () => {
    const [killed] = nodes;
    expect(stdout(await k.execute(`%connect ${killed.node} --cookie-env GONE_COOKIE_0`))).toMatch(/Attached to/);
    expect(errorText(await k.execute("%probe :lists.reverse/1 --as doomed --limit 1000000 --for 5m"))).toBe("");
    await waitFor(async () => (await probeStatus(k, "doomed")).seen > 5, 15_000, "the probe to see calls");
    const t0 = Date.now();
    killed.stop();
    await waitFor(async () => (await probeStatus(k, "doomed")).state === "ended", 15_000, "the probe to end");
    expect((await probeStatus(k, "doomed")).why_ended).toBe("node_down");
    const described = texts(await k.execute("%events doomed"), "execute_result")[0];
    const when = /ended \((?:node_down: )?the connection to \S+ was lost.*, at (\S+Z)\)/.exec(described);
    expect(when, described).not.toBeNull();
    expect(Date.parse(when![1])).toBeGreaterThanOrEqual(t0 - 1000);
    const rows = await k.execute("const doomedRows = %events doomed\nconsole.log(doomedRows.numRows())");
    expect(Number(stdout(rows).trim())).toBeGreaterThan(0);
    const listed = await k.execute(`const ns = %nodes\nconsole.log(JSON.stringify(ns.objects().find((n: any) => n.node === "${killed.node}")))`);
    expect(JSON.parse(stdout(listed).trim())).toMatchObject({ state: "down", why: expect.stringMatching(/lost/) });
  });

  it("System.halt (init:stop) on the target is noticed the same way", async () => {
    const halted = nodes[1];
    expect(stdout(await k.execute(`%connect ${halted.node} --cookie-env GONE_COOKIE_1`))).toMatch(/Attached to/);
    expect(errorText(await k.execute("%probe :lists.reverse/1 --as halting --limit 1000000 --for 5m"))).toBe("");
    halted.eval("spawn(fun() -> timer:sleep(200), erlang:halt() end)");
    await waitFor(async () => (await probeStatus(k, "halting")).state === "ended", 15_000, "the probe to end");
    expect((await probeStatus(k, "halting")).why_ended).toBe("node_down");
  });

  it("a target that disconnects the kernel: the next %erlang attaches again (agent reloaded) and works", async () => {
    const dropper = nodes[2];
    expect(stdout(await k.execute(`%connect ${dropper.node} --cookie-env GONE_COOKIE_2`))).toMatch(/Attached to/);
    dropper.eval("[erlang:disconnect_node(N) || N <- nodes(hidden), lists:prefix(\"lumin_bridge\", atom_to_list(N))]");
    await waitFor(async () => {
      const r = await k.execute(`const dn = %nodes\nconsole.log(JSON.stringify(dn.objects().find((n: any) => n.node === "${dropper.node}")))`);
      return JSON.parse(stdout(r).trim()).state === "down";
    }, 15_000, "the node to be marked down");
    const r = await k.execute(`%erlang --node ${dropper.node} 1 + 1.`);
    expect(errorText(r)).toBe("");
    expect(shown(r)).toBe("2");
    expect(dropper.eval("is_pid(whereis(lumin_agent))")).toBe("true");
  });
});

const readOr = (file: string) => {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return "";
  }
};

describe("secrets", () => {
  let k: KernelClient;
  let target: ErlNode;
  const envCookie = randomCookie();

  beforeAll(async () => {
    target = await ErlNode.start("secret");
    k = await startKernel({ env: { TARGET_SECRET_VALUE: target.cookie, LUMIN_T_COOKIE: envCookie } });
  });
  afterAll(async () => {
    await k?.shutdown();
    target?.stop();
  });

  it("no cookie on any command line or in any environment of a process the kernel started", async () => {
    const name = uniqueName("owned");
    expect(stdout(await k.execute(`%node start ${name}`, { timeout: 120 }))).toMatch(/Attached to/);
    expect(stdout(await k.execute(`%connect ${target.node} --cookie-env TARGET_SECRET_VALUE`))).toMatch(/Attached to/);
    const owned = await k.execute(`%%elixir --node ${name}\nNode.get_cookie() |> Atom.to_string()`);
    const ownedCookie = shown(owned).replace(/^"|"$/g, "");
    expect(ownedCookie.length).toBeGreaterThan(20);
    const pids = descendants(k.pid).filter((p) => p !== k.pid);
    expect(pids.length).toBeGreaterThanOrEqual(2); // the bridge and the owned node
    // (The test's own target was started with -setcookie: only the kernel's processes are looked at for its cookie.)
    const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    expect(ps).not.toContain(ownedCookie);
    expect(ps).not.toContain(envCookie);
    for (const secret of [ownedCookie, target.cookie, envCookie]) {
      for (const p of pids) {
        expect(readOr(`/proc/${p}/environ`)).not.toContain(secret);
        expect(readOr(`/proc/${p}/cmdline`)).not.toContain(secret);
      }
    }
  });

  it("a 300-character cookie file and a key file are refused without showing their text", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lumin-cookie-"));
    const long = path.join(dir, "long");
    const longText = "Q".repeat(300);
    writeFileSync(long, longText);
    const key = path.join(dir, "id_test");
    const keyText = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
    writeFileSync(key, keyText);
    const r1 = await k.execute(`%connect ${target.node} --cookie-file ${long}`);
    expect(errorText(r1)).toMatch(/holds 300 characters, and a cookie is at most 255/);
    const r2 = await k.execute(`%connect ${target.node} --cookie-file ${key}`);
    expect(errorText(r2)).toMatch(/is not a cookie/);
    for (const r of [r1, r2]) {
      const all = JSON.stringify(r.messages);
      expect(all).not.toContain("QQQQQQQQ");
      expect(all).not.toContain("b3BlbnNzaC1rZXkt");
    }
  });
});

describe("naming modes", () => {
  it("a long-name target NAME@127.0.0.1 and a short-name target, from one kernel, after a failed short-name connect", async () => {
    const cookie = randomCookie();
    const longName = uniqueName("long");
    const longNode = `${longName}@127.0.0.1`;
    execFileSync("epmd", ["-daemon"]);
    const child = spawn("erl", ["-name", longNode, "-setcookie", cookie, "-noshell", "-noinput"], { stdio: "ignore" });
    const short = await ErlNode.start("shortmode");
    const k = await startKernel({ env: { LONG_NODE_COOKIE: cookie, SHORT_NODE_COOKIE: short.cookie } });
    try {
      await waitFor(() => erlEvalOnLong(longNode, cookie) === "true", 20_000, "the long-name node to answer");
      // A short-name connect that fails first must not lock the kernel into short names.
      const failed = await k.execute(`%connect ${uniqueName("nobody")}@${os.hostname().split(".")[0]} --cookie-env SHORT_NODE_COOKIE --timeout 2s`);
      expect(errorText(failed)).toMatch(/could not connect/);
      expect(stdout(await k.execute(`%connect ${longNode} --cookie-env LONG_NODE_COOKIE`))).toMatch(/Attached to/);
      expect(stdout(await k.execute(`%connect ${short.node} --cookie-env SHORT_NODE_COOKIE`))).toMatch(/Attached to/);
      expect(shown(await k.execute(`%erlang --node ${longNode} node().`))).toBe(`'${longNode}'`);
      expect(shown(await k.execute(`%erlang --node ${short.node} node().`))).toBe(short.node);
      await k.execute("%disconnect");
      expect(erlEvalOn(short.node, short.cookie, '[M || M <- erlang:loaded(), lists:prefix("lumin_", atom_to_list(M))]')).toBe("[]");
    } finally {
      await k.shutdown();
      child.kill("SIGKILL");
      short.stop();
    }
  }, 120_000);
});

/** Ask a long-name node something from a long-name checker (erlEvalOn uses short names). */
function erlEvalOnLong(node: string, cookie: string): string {
  const script = `R = net_adm:ping('${node}') =:= pong, io:format("~p", [R]), halt().`;
  try {
    return execFileSync("erl", ["-name", `${uniqueName("lcheck")}@127.0.0.1`, "-hidden", "-setcookie", cookie, "-noshell", "-eval", script], { encoding: "utf8", timeout: 20_000 }).trim();
  } catch {
    return "false";
  }
}

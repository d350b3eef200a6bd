/**
 * Redaction on the node (issue 13), through a real Jupyter client against a real node running
 * notebooks/apps/secrets: a GenServer whose state holds a password and a token, a `login(user, password)`
 * that takes the password positionally and returns `{:ok, token}`, `{:login, user, password}` messages, a
 * session id in the process dictionary, and a log line with an `authorization:` value.
 *
 * With call (--args), message, state and log probes armed and %state/%info run, no secret is in any output,
 * table, chart, %explain, capture, recording, report, OTLP file, history or the kernel's log — every file
 * the kernel wrote is read.
 * Then `%redact off`, and the same evidence shows them: the test can fail.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startKernel, stdout, type ExecuteResult, type KernelClient } from "../support/jupyter";
import { uniqueName } from "../support/beam";

/** The app's secrets, as notebooks/apps/secrets/lib/secrets/vault.ex holds them. No cell ever names them. */
const SECRETS = {
  password: "hunter2-Qx7vLm",
  token: "tok-9FzR2kWp4T",
  authorization: "Basic YWxpY2U6cXg3dkxt",
  session: "sess-Jd82HqPz",
};
const APP = path.join(ROOT, "notebooks", "apps", "secrets");
const NODE = uniqueName("secrets");

let k: KernelClient;
/** Everything every cell sent back, as JSON: what a notebook would keep. */
const outputs: string[] = [];

async function run(code: string, timeout = 60): Promise<ExecuteResult> {
  const r = await k.execute(code, { timeout });
  outputs.push(JSON.stringify(r.messages));
  const err = r.messages.find((m) => m.msg_type === "error");
  if (err) throw new Error(`cell failed: ${err.content.ename}: ${err.content.evalue}\n${code}`);
  return r;
}

/** Every file under `dir`, with its text. */
function filesUnder(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    const st = statSync(file);
    if (st.isDirectory()) out.push(...filesUnder(file));
    else out.push({ file, text: readFileSync(file).toString("latin1") });
  }
  return out;
}

/** Which secrets appear in a text (Arrow files hold terms as raw bytes: their strings are plain in them). */
const found = (text: string) => Object.entries(SECRETS).filter(([, s]) => text.includes(s)).map(([k]) => k);

beforeAll(async () => {
  k = await startKernel();
  // Everything the kernel gets from the node is also recorded: the recording must hold no secret either.
  await run("%record rec");
  await run(`%node start ${NODE} --app ${APP}`, 180);
}, 240_000);

afterAll(async () => {
  await k?.shutdown();
});

describe("redaction on the node", () => {
  it("keeps every secret out of outputs, tables, charts, captures, the recording, reports, OTLP spans, history and the kernel's log", async () => {
    const policy = await run("%redact");
    expect(JSON.stringify(policy.messages)).toContain("Redaction on: password, passwd, secret, token, api_key, apikey, authorization, cookie, session, private_key, credentials");

    // %state first: the agent learns the values under secret keys, so they are redacted wherever they appear next.
    const state = await run("%state Secrets.Vault");
    expect(JSON.stringify(state.messages)).toMatch(/password: \[redacted\].*token: \[redacted\]|token: \[redacted\].*password: \[redacted\]/);
    expect(JSON.stringify(state.messages)).toContain('user: \\"alice\\"');
    const info = await run("%info Secrets.Vault");
    expect(JSON.stringify(info.messages)).toContain("{:session_id, [redacted]}");

    await run("%probe Secrets.Vault.login/2 --args --as logins");
    await run("%probe --messages Secrets.Vault --as msgs");
    await run("%probe --state Secrets.Vault --as states");
    await run("%probe --logs info --as logs");
    await run("%%elixir\nSecrets.Vault.run(3)");

    const calls = await run(`const logins = %events logins --wait=5s\nconsole.log(JSON.stringify(logins.objects().map((r) => [String(r.args), String(r.result)])))`);
    const rows = JSON.parse(stdout(calls).trim().split("\n").pop()!) as [string, string][];
    expect(rows).toHaveLength(3);
    // The password by its parameter's name in login(user, password); the token as a value seen under `token:`.
    for (const [args, result] of rows) {
      expect(args).toBe('["alice", [redacted]]');
      expect(result).toBe("{:ok, [redacted]}");
    }
    const msgs = await run(`const msgs = %events msgs --wait=3s\nconsole.log(JSON.stringify(msgs.objects().map((r) => String(r.message))))`);
    const messages = JSON.parse(stdout(msgs).trim().split("\n").pop()!) as string[];
    expect(messages.filter((m) => m.includes('{:login, "alice", [redacted]}')).length).toBeGreaterThanOrEqual(4);
    const states = await run(`const st = %events states --wait=3s\nconsole.log(JSON.stringify(st.objects().map((r) => String(r.state_after))))`);
    expect(JSON.parse(stdout(states).trim().split("\n").pop()!)).toContain('%{logins: 1, password: [redacted], token: [redacted], user: "alice"}');
    // What each login changed (text made on the node, redacted there as the state is: see the leak check below).
    const diffs = await run(`console.log(JSON.stringify(st.array("state_diff")))`);
    expect(JSON.parse(stdout(diffs).trim().split("\n").pop()!)).toContain("logins: 0 → 1");
    const logs = await run(`const lg = %events logs --wait=3s\nconsole.log(JSON.stringify(lg.objects().map((r) => r.message)))`);
    expect(JSON.parse(stdout(logs).trim().split("\n").pop()!).join("\n")).toContain("authorization: [redacted]");

    // An evaluation's error: the function clause error's stacktrace gives verify(user, password)'s arguments.
    const failed = await k.execute("%%elixir\nSecrets.Vault.fail()");
    outputs.push(JSON.stringify(failed.messages));
    const error = failed.messages.find((m) => m.msg_type === "error");
    expect(JSON.stringify(error?.content)).toContain('Secrets.Vault.verify(\\"alice\\", [redacted])');

    // Every view of them: tables, a chart, %explain, captures, a report.
    await run("%events logins");
    await run("%events msgs");
    await run("%events states");
    await run("%events logs");
    await run("%chart timeline logins");
    await run("%explain logins");
    const saved = await run("%capture save logins logins.arrow\n%capture save msgs msgs.arrow\n%capture save states states.arrow\n%capture save logs logs.arrow");
    expect(stdout(saved)).toContain("Redaction on: password, passwd, secret, token");
    await run("%export report.html");
    await run("%export otel spans.jsonl logins msgs");
    const report = readFileSync(path.join(k.cwd, "report.html"), "utf8");
    expect(report).toContain("Secrets were redacted on the nodes before terms left them: on: password");

    await run("%redact"); // a cell starts: the recording saves what it holds so far
    expect(filesUnder(path.join(k.cwd, "rec")).filter((f) => /probes[\\/].*\.arrow$/.test(f.file)).length).toBeGreaterThanOrEqual(4);
    const leaks = [
      ...outputs.map((o, i) => ({ where: `output of cell ${i + 1}`, which: found(o) })),
      ...filesUnder(k.cwd).map((f) => ({ where: f.file, which: found(f.text) })),
      ...filesUnder(k.tmp).map((f) => ({ where: f.file, which: found(f.text) })),
      { where: "the kernel's log (stderr)", which: found(k.stderr()) },
    ].filter((l) => l.which.length > 0);
    expect(leaks).toEqual([]);
    // The files looked at are the ones the kernel wrote: the captures, the report and the history.
    expect(readdirSync(k.cwd).sort()).toEqual(["logins.arrow", "logs.arrow", "msgs.arrow", "rec", "report.html", "spans.jsonl", "states.arrow"]);
    expect(filesUnder(path.join(k.cwd, "rec")).some((f) => f.file.endsWith("manifest.json"))).toBe(true);
    expect(filesUnder(k.tmp).some((f) => f.file.endsWith("history.jsonl"))).toBe(true);
  }, 240_000);

  it("%redact off (with a warning) lets them through: the check above can fail", async () => {
    const off = await run("%redact off");
    expect(off.messages.find((m) => m.msg_type === "stream" && m.content.name === "stderr")?.content.text).toMatch(/^warning: redaction is off/);
    const state = await run("%state Secrets.Vault");
    expect(found(JSON.stringify(state.messages))).toEqual(expect.arrayContaining(["password", "token"]));
    // The probes armed before go on: their new rows carry the secrets, and their captures say the policy changed.
    await run("%%elixir\nSecrets.Vault.run(1)");
    const calls = await run(`const off1 = %events logins --wait=5s\nconsole.log(JSON.stringify(off1.objects().map((r) => String(r.args))))`);
    expect(stdout(calls)).toContain(SECRETS.password);
    const saved = await run("%capture save logins off.arrow");
    expect(stdout(saved)).toContain("Redaction changed while its rows were taken: on: password");
    expect(stdout(saved)).toContain("→ off");
    expect(found(readFileSync(path.join(k.cwd, "off.arrow")).toString("latin1"))).toContain("password");

    // And back on: the policy can be changed again, keys added and removed.
    const on = await run("%redact on\n%redact add pin\n%redact remove session");
    expect(JSON.stringify(on.messages)).toContain("Redaction on: password, passwd, secret, token, api_key, apikey, authorization, cookie, private_key, credentials, pin");
    const back = await run("%state Secrets.Vault");
    expect(found(JSON.stringify(back.messages))).toEqual([]);
  }, 120_000);

  it("bad %redact input is a usage error and the policy is unchanged", async () => {
    const before = JSON.stringify((await run("%redact")).messages.filter((m) => m.msg_type === "execute_result").map((m) => m.content.data));
    const r = await k.execute("%redact remove nosuchkey");
    expect(r.messages.find((m) => m.msg_type === "error")?.content.evalue).toMatch(/nosuchkey is not in the policy/);
    const r2 = await k.execute("%redact add");
    expect(r2.messages.find((m) => m.msg_type === "error")?.content.evalue).toMatch(/%redact add needs at least one key/);
    const after = JSON.stringify((await run("%redact")).messages.filter((m) => m.msg_type === "execute_result").map((m) => m.content.data));
    expect(after).toBe(before);
  });

  it("a secret one probe learns is redacted in every other probe's rows on that node from then on", async () => {
    await run("%redact reset");
    // A node of its own: nothing learned there yet (no %state has shown the vault's keys).
    const fresh = uniqueName("secrets_cross");
    try {
      await run(`%node start ${fresh} --app ${APP}`, 180);
      // The call probe learns the password by its parameter's name in login(user, password)…
      await run(`%probe Secrets.Vault.login/2 --args --node ${fresh} --as cross_logins`);
      await run(`%%elixir --node ${fresh}\nSecrets.Vault.run(1)`);
      const logins = await run(`const cl = %events cross_logins --wait=5s\nconsole.log(JSON.stringify(cl.objects().map((r) => String(r.args))))`);
      expect(JSON.parse(stdout(logins).trim().split("\n").pop()!)).toEqual(['["alice", [redacted]]']);
      // …and a message probe armed afterwards, which has no key or parameter to go by, redacts it in the
      // messages that carry it (the GenServer call and the plain message), as does an evaluation's result.
      await run(`%probe --messages Secrets.Vault --node ${fresh} --as cross_msgs`);
      await run(`%%elixir --node ${fresh}\nSecrets.Vault.run(2)`);
      const msgs = await run(`const cm = %events cross_msgs --wait=3s\nconsole.log(JSON.stringify(cm.objects().map((r) => String(r.message))))`);
      const messages = JSON.parse(stdout(msgs).trim().split("\n").pop()!) as string[];
      expect(messages.filter((m) => m.includes('{:login, "alice", [redacted]}')).length).toBeGreaterThanOrEqual(3);
      const state = await run(`%%elixir --node ${fresh}\n:sys.get_state(Secrets.Vault).password`);
      expect(JSON.stringify(state.messages)).toContain("[redacted]");
      // (The token is not learned here: nothing on this node has shown it under its key yet.)
      expect(outputs.slice(-6).join("\n")).not.toContain(SECRETS.password);
    } finally {
      await k.execute(`%disconnect ${fresh}`);
    }
  }, 240_000);

  it("a policy changed before a node is attached is the one that node's agent applies", async () => {
    await run("%redact reset\n%redact add pin");
    const later = uniqueName("secrets_later");
    try {
      await run(`%node start ${later}`, 180);
      const r = await run(`%%elixir --node ${later}\n%{pin: "4321-later", plain: "shown"}`);
      expect(JSON.stringify(r.messages)).toContain("pin: [redacted]");
      expect(JSON.stringify(r.messages)).toContain('plain: \\"shown\\"');
    } finally {
      await k.execute(`%disconnect ${later}`);
      await k.execute("%redact reset");
    }
  }, 240_000);
});

/**
 * Protocol abuse through a real Jupyter client's socket: messages signed with the right key whose parts are
 * null or of the wrong type. The kernel answers a request it can address with an error saying what was wrong,
 * drops anything else, never echoes what it could not check, and keeps serving: the next cell runs.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKernel, texts, type KernelClient } from "../support/jupyter";

let k: KernelClient;

beforeAll(async () => {
  k = await startKernel();
});
afterAll(async () => {
  await k?.shutdown();
});

const header = (msgType: string, extra: Record<string, unknown> = {}) => ({
  msg_id: randomUUID(),
  session: randomUUID(),
  username: "abuser",
  date: new Date().toISOString(),
  msg_type: msgType,
  version: "5.3",
  ...extra,
});
const HEADER_KEYS = ["msg_id", "session", "username", "date", "msg_type", "version"];

async function stillServing(): Promise<void> {
  expect(await k.alive()).toBe(true);
  const r = await k.execute("40 + 2");
  expect(texts(r, "execute_result")).toEqual(["42"]);
}

describe("a signed message that is not a message", () => {
  it.each([
    ["null", null],
    ["a string", "execute_request"],
    ["an array", [1, 2]],
    ["a number", 7],
    ["without msg_type", { msg_id: "m1", session: "s" }],
    ["with a numeric msg_type", { msg_id: "m2", session: "s", msg_type: 5 }],
  ])("header %s: dropped, nothing echoed, the kernel keeps serving", async (_what, bad) => {
    const r = await k.raw({ header: bad, content: { code: "globalThis.ranFromBadHeader = true" } }, "shell", 1.5);
    expect(r.replies).toEqual([]);
    expect(r.iopub).toEqual([]);
    await stillServing();
    const ran = await k.execute("typeof (globalThis as any).ranFromBadHeader");
    expect(texts(ran, "execute_result")).toEqual(["'undefined'"]);
  });
});

describe("a request with a bad part is answered with an error saying what was wrong", () => {
  it.each([
    ["content null", { content: null }, /content is null, not an object/],
    ["content a string", { content: "1 + 1" }, /content is a string/],
    ["parent_header null", { parent_header: null }, /parent_header is null/],
    ["metadata an array", { metadata: [] }, /metadata is an array/],
    ["code a number", { content: { code: 5 } }, /content\.code is a number; execute_request needs a string/],
    ["user_expressions not strings", { content: { code: "1", user_expressions: { a: 1 } } }, /content\.user_expressions .*object of strings/],
    ["silent a string", { content: { code: "1", silent: "yes" } }, /content\.silent is a string/],
  ])("execute_request with %s", async (_what, parts, reason) => {
    const h = header("execute_request");
    const r = await k.raw({ header: h, content: { code: "1" }, ...parts });
    expect(r.replies).toHaveLength(1);
    expect(r.replies[0].msg_type).toBe("execute_reply");
    expect(r.replies[0].content).toMatchObject({ status: "error", ename: "BadRequest" });
    expect(r.replies[0].content.evalue).toMatch(reason);
    expect(r.replies[0].parent_header.msg_id).toBe(h.msg_id);
    await stillServing();
  });

  it("echoes only the header fields it checked (a wrong-typed or unknown field never comes back)", async () => {
    const h = header("execute_request", { session: 42, injected: "x".repeat(10_000) });
    const r = await k.raw({ header: h, content: { code: "1" } });
    expect(r.replies[0].content.evalue).toMatch(/header\.session is a number, not a string/);
    const parent = r.replies[0].parent_header;
    expect(Object.keys(parent).every((key) => HEADER_KEYS.includes(key))).toBe(true);
    expect(parent.session).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain("xxxxxxxxxx");
    await stillServing();
  });

  it("complete, inspect and history requests with wrong-typed fields", async () => {
    for (const [type, content, reason] of [
      ["complete_request", { code: "x", cursor_pos: "1" }, /cursor_pos is a string; complete_request needs an integer/],
      ["inspect_request", { code: null, cursor_pos: 0 }, /content\.code is null/],
      ["history_request", { hist_access_type: "tail", n: "ten" }, /content\.n is a string/],
      ["comm_info_request", { target_name: 3 }, /target_name is a number/],
    ] as const) {
      const r = await k.raw({ header: header(type), content });
      expect(r.replies[0]?.content.status, type).toBe("error");
      expect(r.replies[0].content.evalue).toMatch(reason);
    }
    await stillServing();
  });

  it("on the control channel: a bad shutdown_request does not shut the kernel down", async () => {
    let r = await k.raw({ header: header("shutdown_request"), content: { restart: "please" } }, "control");
    expect(r.replies[0].content.evalue).toMatch(/content\.restart is a string; shutdown_request needs a boolean/);
    r = await k.raw({ header: header("interrupt_request"), content: null }, "control");
    expect(r.replies[0].content).toMatchObject({ status: "error", ename: "BadRequest" });
    await stillServing();
  });

  it("an unknown request is answered 'not supported'; a bad comm message is dropped", async () => {
    let r = await k.raw({ header: header("make_coffee_request"), content: {} });
    expect(r.replies[0].content.evalue).toMatch(/make_coffee_request is not supported/);
    r = await k.raw({ header: header("comm_msg"), content: { comm_id: 5, data: null } }, "shell", 1);
    expect(r.replies).toEqual([]);
    await stillServing();
  });
});

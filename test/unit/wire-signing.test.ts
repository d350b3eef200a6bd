/** Message signing: HMAC-SHA256 over the four JSON frames, as jupyter_client computes it. */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BadMessageError, Signer, decodeFrames, encodeFrames } from "../../kernel/wire/frames";
import { makeHeader } from "../../kernel/wire/message";

const KEY = "a0f3b5c2-secret";
const message = () => ({
  identities: [Buffer.from("client-1")],
  header: makeHeader("execute_request", "session-1"),
  parent_header: {},
  metadata: {},
  content: { code: "1 + 1", silent: false },
  buffers: [],
});

describe("signing", () => {
  it("signs the header, parent, metadata and content frames with HMAC-SHA256, hex", () => {
    const frames = encodeFrames(message() as never, new Signer(KEY));
    const at = frames.findIndex((f) => f.toString() === "<IDS|MSG>");
    const hmac = createHmac("sha256", KEY);
    for (const f of frames.slice(at + 2, at + 6)) hmac.update(f);
    expect(frames[at + 1].toString()).toBe(hmac.digest("hex"));
  });

  it("round-trips a message, identities and content included", () => {
    const signer = new Signer(KEY);
    const decoded = decodeFrames(encodeFrames(message() as never, signer), signer);
    expect(decoded.identities.map(String)).toEqual(["client-1"]);
    expect(decoded.content).toEqual({ code: "1 + 1", silent: false });
    expect(decoded.header.msg_type).toBe("execute_request");
  });

  it("rejects a bad signature, a tampered frame and a missing delimiter", () => {
    const signer = new Signer(KEY);
    const frames = encodeFrames(message() as never, signer);
    const at = frames.findIndex((f) => f.toString() === "<IDS|MSG>");
    expect(() => decodeFrames(encodeFrames(message() as never, new Signer("other-key")), signer)).toThrow(BadMessageError);
    const tampered = [...frames];
    tampered[at + 5] = Buffer.from(JSON.stringify({ code: "rm -rf /" }));
    expect(() => decodeFrames(tampered, signer)).toThrow(/bad signature/);
    expect(() => decodeFrames(frames.filter((_, i) => i !== at), signer)).toThrow(/delimiter/);
  });

  it("accepts unsigned messages only when the key is empty", () => {
    const unsigned = encodeFrames(message() as never, new Signer(""));
    expect(decodeFrames(unsigned, new Signer("")).content).toMatchObject({ code: "1 + 1" });
    expect(() => decodeFrames(unsigned, new Signer(KEY))).toThrow(BadMessageError);
  });
});

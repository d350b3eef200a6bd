/** The bridge's stream cut into frames, however the pipe happens to split it. */
import { describe, expect, it } from "vitest";
import { FrameReader } from "../../kernel/beam/frameReader";

const frame = (payload: string) => {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
};

function read(chunks: Buffer[]): string[] {
  const out: string[] = [];
  const r = new FrameReader((f) => out.push(f.toString()));
  for (const c of chunks) r.push(c);
  return out;
}

describe("FrameReader", () => {
  const stream = Buffer.concat([frame("first"), frame(""), frame("x".repeat(200_000)), frame("last")]);
  const expected = ["first", "", "x".repeat(200_000), "last"];

  it("reads frames that come whole, together in one chunk", () => {
    expect(read([stream])).toEqual(expected);
  });

  it("reads frames split anywhere, even inside a length header, and keeps an incomplete one for later", () => {
    for (const size of [1, 3, 7, 65_536]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      expect(read(chunks)).toEqual(expected);
    }
    expect(read([stream.subarray(0, stream.length - 2)])).toEqual(expected.slice(0, 3));
  });
});

/** The shape check every signed message passes before a handler sees it (kernel/wire/messageShape.ts). */
import { describe, expect, it } from "vitest";
import { BadShapeError, checkShape } from "../../kernel/wire/messageShape";

const header = { msg_id: "m1", session: "s1", username: "u", date: "2026-01-01T00:00:00Z", msg_type: "execute_request", version: "5.3" };
const ok = { header, parent_header: {}, metadata: {}, content: { code: "1 + 1", silent: false, user_expressions: {} } };

function problem(parts: Record<string, unknown>): BadShapeError {
  try {
    checkShape({ ...ok, ...parts } as never);
  } catch (e) {
    if (e instanceof BadShapeError) return e;
    throw e;
  }
  throw new Error("expected the shape check to fail");
}

describe("checkShape", () => {
  it("passes a well-formed request through, keeping only the known header fields", () => {
    const checked = checkShape({ ...ok, header: { ...header, extra: "x" } });
    expect(checked.header).toEqual(header);
    expect(checked.content.code).toBe("1 + 1");
  });

  it("a header that is not one cannot be answered", () => {
    for (const bad of [null, "execute_request", [1], 3, { msg_id: "m" }, { msg_type: "x" }, { msg_id: "", msg_type: "x" }]) {
      expect(problem({ header: bad }).header).toBeUndefined();
    }
  });

  it("a bad part or field can be answered, naming what was wrong", () => {
    expect(problem({ content: null })).toMatchObject({ message: "content is null, not an object", header });
    expect(problem({ parent_header: [] }).message).toBe("parent_header is an array, not an object");
    expect(problem({ metadata: "m" }).message).toBe("metadata is a string, not an object");
    expect(problem({ content: { code: 1 } }).message).toBe("content.code is a number; execute_request needs a string");
    expect(problem({ content: {} }).message).toBe("content.code is missing; execute_request needs a string");
    expect(problem({ content: { code: "", user_expressions: { a: 2 } } }).message).toMatch(/user_expressions is an object; .* an object of strings/);
    expect(problem({ header: { ...header, session: 5 } })).toMatchObject({ message: "header.session is a number, not a string" });
    expect(problem({ header: { ...header, session: 5 } }).header).not.toHaveProperty("session");
  });

  it("optional fields may be absent or null; integers must be whole", () => {
    const complete = { ...header, msg_type: "complete_request" };
    expect(() => checkShape({ ...ok, header: complete, content: { code: "x", cursor_pos: null } })).not.toThrow();
    expect(() => checkShape({ ...ok, header: complete, content: { code: "x", cursor_pos: 1.5 } })).toThrow(/cursor_pos is a number; complete_request needs an integer/);
  });
});

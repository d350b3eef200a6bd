/**
 * The shape of every message, checked after its signature and before anything reads it. A correctly signed
 * message can still be wrong (a buggy client, or someone holding the key): `header: null`, `content: "x"`, a
 * code that is a number. Such a message never reaches a handler. If it can be answered (its header names a
 * request), it gets an error reply saying what was wrong; otherwise it is dropped. Either way the kernel logs it
 * and keeps serving. Only the checked header fields are ever echoed back as a reply's parent.
 */
import type { JupyterMessage, MessageHeader } from "./message";

type Field = "string" | "boolean" | "integer" | "object" | "strings";
/** A field's type; `?` marks it optional (absent or null). */
type Spec = Record<string, Field | `${Field}?`>;

/** The content of each message a client may send, field by field (Jupyter messaging protocol 5.3). */
const CONTENT: Record<string, Spec> = {
  execute_request: { code: "string", silent: "boolean?", store_history: "boolean?", user_expressions: "strings?", allow_stdin: "boolean?", stop_on_error: "boolean?" },
  complete_request: { code: "string", cursor_pos: "integer?" },
  inspect_request: { code: "string", cursor_pos: "integer?", detail_level: "integer?" },
  is_complete_request: { code: "string" },
  history_request: {
    hist_access_type: "string?",
    output: "boolean?",
    raw: "boolean?",
    session: "integer?",
    start: "integer?",
    stop: "integer?",
    n: "integer?",
    pattern: "string?",
    unique: "boolean?",
  },
  comm_info_request: { target_name: "string?" },
  comm_open: { comm_id: "string", target_name: "string", data: "object?" },
  comm_msg: { comm_id: "string", data: "object?" },
  comm_close: { comm_id: "string", data: "object?" },
  kernel_info_request: {},
  interrupt_request: {},
  shutdown_request: { restart: "boolean?" },
  input_reply: { value: "string" },
};

/** Header fields kept (when they are strings); anything else a client put there is not carried further. */
const HEADER_FIELDS = ["msg_id", "session", "username", "date", "msg_type", "version"] as const;

export class BadShapeError extends Error {
  constructor(
    message: string,
    /** The checked header, when the message can be answered. */
    readonly header?: MessageHeader,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function fits(value: unknown, type: Field): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return Number.isSafeInteger(value);
    case "object":
      return isObject(value);
    case "strings":
      return isObject(value) && Object.values(value).every((v) => typeof v === "string");
  }
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

/** The header, if it is one: an object with string msg_id and msg_type (the other known fields kept if strings). */
function checkHeader(header: unknown): MessageHeader {
  if (!isObject(header)) throw new BadShapeError(`the header is ${describe(header)}, not an object`);
  if (typeof header.msg_id !== "string" || !header.msg_id) throw new BadShapeError("the header has no msg_id string");
  if (typeof header.msg_type !== "string" || !header.msg_type) throw new BadShapeError("the header has no msg_type string");
  const kept: Record<string, string> = {};
  for (const f of HEADER_FIELDS) if (typeof header[f] === "string") kept[f] = header[f] as string;
  const checked = kept as unknown as MessageHeader;
  const wrong = HEADER_FIELDS.filter((f) => header[f] !== undefined && typeof header[f] !== "string");
  if (wrong.length) throw new BadShapeError(`header.${wrong[0]} is ${describe(header[wrong[0]])}, not a string`, checked);
  return checked;
}

/** Checks the four JSON parts of a message; throws BadShapeError saying what is wrong. */
export function checkShape(parts: { header: unknown; parent_header: unknown; metadata: unknown; content: unknown }): Pick<JupyterMessage, "header" | "parent_header" | "metadata" | "content"> {
  const header = checkHeader(parts.header);
  for (const part of ["parent_header", "metadata", "content"] as const) {
    if (!isObject(parts[part])) throw new BadShapeError(`${part} is ${describe(parts[part])}, not an object`, header);
  }
  const content = parts.content as Record<string, unknown>;
  const spec = CONTENT[header.msg_type];
  if (spec) {
    for (const [name, t] of Object.entries(spec)) {
      const optional = t.endsWith("?");
      const type = t.replace("?", "") as Field;
      const value = content[name];
      if ((value === undefined || value === null) && optional) continue;
      if (!fits(value, type)) {
        const want = type === "strings" ? "an object of strings" : type === "integer" ? "an integer" : type === "object" ? "an object" : `a ${type}`;
        throw new BadShapeError(`content.${name} is ${value === undefined ? "missing" : describe(value)}; ${header.msg_type} needs ${want}`, header);
      }
    }
  }
  return { header, parent_header: parts.parent_header as JupyterMessage["parent_header"], metadata: parts.metadata as Record<string, unknown>, content };
}

/** Is this a message type the kernel knows (any other request is answered "not supported")? */
export const knownMessageType = (msgType: string): boolean => msgType in CONTENT;

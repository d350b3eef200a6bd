/**
 * The wire format: [identities…, "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers…],
 * signed with HMAC-SHA256 over the four JSON frames exactly as they travel.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { JupyterMessage, MessageHeader } from "./message";
import { BadShapeError, checkShape } from "./messageShape";

const DELIMITER = Buffer.from("<IDS|MSG>");

export class Signer {
  constructor(private readonly key: string) {}

  sign(frames: readonly Buffer[]): string {
    if (!this.key) return "";
    const hmac = createHmac("sha256", this.key);
    for (const f of frames) hmac.update(f);
    return hmac.digest("hex");
  }

  verify(signature: string, frames: readonly Buffer[]): boolean {
    if (!this.key) return true;
    const expected = Buffer.from(this.sign(frames));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/** A message that cannot be used; `header` is set when it can still be answered (see messageShape.ts). */
export class BadMessageError extends Error {
  constructor(
    message: string,
    readonly header?: MessageHeader,
  ) {
    super(message);
  }
}

/** The routing identities in front of a message's delimiter (all frames, if there is none). */
export function identitiesOf(frames: readonly Buffer[]): Buffer[] {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  return frames.slice(0, at < 0 ? frames.length : at) as Buffer[];
}

export function decodeFrames(frames: readonly Buffer[], signer: Signer): JupyterMessage {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0 || frames.length < at + 6) throw new BadMessageError("no <IDS|MSG> delimiter or too few frames");
  const signature = frames[at + 1].toString();
  const parts = frames.slice(at + 2, at + 6);
  if (!signer.verify(signature, parts)) throw new BadMessageError("bad signature");
  let json: unknown[];
  try {
    json = parts.map((p) => JSON.parse(p.toString("utf8")));
  } catch (e) {
    throw new BadMessageError(`a part is not JSON: ${(e as Error).message}`);
  }
  let checked: ReturnType<typeof checkShape>;
  try {
    checked = checkShape({ header: json[0], parent_header: json[1], metadata: json[2], content: json[3] });
  } catch (e) {
    if (e instanceof BadShapeError) throw new BadMessageError(e.message, e.header);
    throw e;
  }
  return { identities: frames.slice(0, at) as Buffer[], ...checked, buffers: frames.slice(at + 6) as Buffer[] };
}

export function encodeFrames(msg: JupyterMessage, signer: Signer): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => Buffer.from(JSON.stringify(p), "utf8"));
  return [...msg.identities, DELIMITER, Buffer.from(signer.sign(parts)), ...parts, ...msg.buffers];
}

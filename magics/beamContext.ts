/** What BEAM magics share: the kernel's BEAM session, the `--node` flag, and the node a magic targets. */
import type { MagicContext } from "../kernel/magics/declaration";
import type { BeamSession } from "../kernel/beam/session";

export const beam = (ctx: Pick<MagicContext, "beam">): BeamSession => ctx.beam;

/** The `--node` flag every BEAM magic takes. */
export const NODE_FLAG = { name: "node", takes: "value", valueName: "NODE", help: "the attached node to use (default: the one attached last)", completes: "nodes" } as const;

/** A node's name as users write it: name@host. */
export const NODE_NAME = /^[^@\s]+@[^@\s]+$/;

/** The node a magic works on: the one its --node names, or the one attached last. */
export function targetNode(ctx: Pick<MagicContext, "beam">, node: string | undefined): string {
  return beam(ctx).node(node).node;
}

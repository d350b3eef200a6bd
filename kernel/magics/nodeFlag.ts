/** The `--node` flag every BEAM magic takes, and a node's name as users write it. */

/** The `--node` flag: the attached node to use; without it, the one attached last (`ctx.beam.node(flag)`). */
export const NODE_FLAG = { name: "node", takes: "value", valueName: "NODE", help: "the attached node to use (default: the one attached last)", completes: "nodes" } as const;

/** A node's name as users write it: name@host. */
export const NODE_NAME = /^[^@\s]+@[^@\s]+$/;

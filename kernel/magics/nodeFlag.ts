/** The `--node` flag every BEAM magic takes, and a node's name as users write it. */

/** The `--node` flag: the attached node to use; without it, the one attached last (`ctx.beam.node(flag)`). */
export const NODE_FLAG = { name: "node", takes: "value", valueName: "NODE", help: "the attached node to use (default: the one attached last)", completes: "nodes" } as const;

/** A node's name as users write it: name@host. */
export const NODE_NAME = /^[^@\s]+@[^@\s]+$/;

/** The `--nodes` flag: several attached nodes at once (`all`, `a@h,b@h`, or a /regex/); see BeamSession.nodesMatching. */
export const NODES_FLAG = {
  name: "nodes",
  takes: "value",
  valueName: "all|NODE,NODE|REGEX",
  help: "run on several attached nodes: all of them, a comma-separated list (name@host or name), or a /regex/ on their names",
} as const;

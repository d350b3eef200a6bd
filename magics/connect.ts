/** %connect, %nodes, %disconnect: attach to running nodes (hidden connections) and detach, leaving nothing behind. */
import { readFileSync } from "node:fs";
import { defineMagic, MagicUsageError, type MagicContext } from "../kernel/magics/declaration";
import { NODE_NAME } from "../kernel/magics/nodeFlag";
import type { ConnectReply } from "../kernel/beam/protocol";
import { nodesTable } from "../kernel/tables/tables";
import { hideFromChildren } from "../kernel/beam/bridge";

function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

export function describeNode(n: ConnectReply): string {
  return `Attached to ${n.node}${n.owned ? " (started by this kernel)" : ""}: OTP ${n.otp_release}, ${n.elixir_version ? `Elixir ${n.elixir_version}` : "no Elixir"}, ${n.process_count.toLocaleString("en")} processes, up ${uptime(n.uptime_ms)}.\n`;
}

export const connect = defineMagic({
  name: "connect",
  kind: "line",
  summary: "Attach to a running node over a hidden connection.",
  details: `The cookie comes from --cookie-env (an environment variable's name) or --cookie-file; with neither, the
kernel asks for it (hidden input), and an empty answer means ~/.erlang.cookie. The cookie never appears in
outputs, notebooks, captures or logs, and the --cookie-env variable is kept out of the environment of every
process the kernel starts. A node that does not answer fails within 5 s with the likely causes. A node
named with a dot in its host (app@127.0.0.1, app@host.example) is reached with long names, others with short
names; one kernel can talk to both. A node held by another kernel is refused, with nothing changed on it.

With --cluster, every node NODE is connected to is attached too, each over its own hidden connection from
this kernel, with NODE's cookie: visible peers, and hidden ones with --hidden. Nodes already attached are
left as they are, so running it again attaches the nodes that joined since. A peer that cannot be attached
is listed with the reason; the others are attached. %nodes then shows every node, and the nodes that join
or leave the cluster later. Probes and snapshots take --nodes all to run on every attached node.

Examples:
  %connect shop@localhost --cookie-env SHOP_COOKIE
  %connect shop@host1 --cluster --cookie-env SHOP_COOKIE`,
  positionals: [{ name: "NODE", help: "the node's name, name@host" }],
  flags: [
    { name: "cookie-env", takes: "value", valueName: "VAR", help: "read the cookie from this environment variable" },
    { name: "cookie-file", takes: "value", valueName: "PATH", help: "read the cookie from this file" },
    { name: "timeout", takes: "value", type: "duration", default: "5s", valueName: "DURATION", help: "how long to wait for the node" },
    { name: "cluster", takes: "none", help: "also attach every node NODE is connected to (visible ones; hidden ones too with --hidden)" },
    { name: "hidden", takes: "none", help: "with --cluster: attach NODE's hidden peers too" },
  ],
  showsResult: false,
  async run({ args }, ctx) {
    const node = args.positionals.NODE;
    if (!NODE_NAME.test(node)) throw new MagicUsageError(`%connect: "${node}" is not a node name; write it as name@host.`);
    if (args.flags.hidden && !args.flags.cluster) throw new MagicUsageError("%connect: --hidden goes with --cluster (it attaches the cluster's hidden nodes too).");
    const session = ctx.beam;
    // A replay asks no node, so it needs no cookie (a colleague replaying a recording has none).
    const replaying = ctx.recording.tape?.mode === "replay";
    // A cookie named by a flag is checked first: a wrong file is said to be wrong whatever is attached.
    const named = !replaying && (args.flags["cookie-env"] !== undefined || args.flags["cookie-file"] !== undefined);
    const given = named ? await readCookie(args.flags, ctx.io) : undefined;
    const already = session.attached().find((n) => n.node === node && !n.down);
    if (already && !args.flags.cluster) throw new MagicUsageError(`%connect: ${node} is attached already (%nodes lists the attached nodes).`);
    let info = already;
    if (!info) {
      const cookie = replaying ? null : given !== undefined ? given : await readCookie(args.flags, ctx.io);
      info = await session.connect(node, cookie, args.flags.timeout);
      ctx.io.stream("stdout", describeNode(info));
    }
    if (!args.flags.cluster) return info;
    return attachCluster(node, args.flags.hidden === true, args.flags.timeout, ctx);
  },
});

/**
 * Attach every peer of `seed` not attached yet, in parallel; say which were attached and which could not be.
 * The peers are those of the seed and of every node of its cluster attached already: a node that joined
 * through another member may not be connected to the seed (yet).
 */
async function attachCluster(seed: string, hidden: boolean, timeoutMs: number, ctx: MagicContext): Promise<ConnectReply[]> {
  const session = ctx.beam;
  const peers = await session.cluster(seed, hidden);
  const members = session.clusterPeers().map((p) => p.peer).filter((p) => p !== seed && session.attached().some((n) => n.node === p && !n.down));
  const through = new Map<string, string>();
  for (const p of [...peers.visible, ...(hidden ? peers.hidden : [])]) through.set(p, seed);
  const more = await Promise.allSettled(members.map((m) => session.cluster(m, hidden)));
  more.forEach((r, i) => {
    if (r.status === "fulfilled") for (const p of [...r.value.visible, ...(hidden ? r.value.hidden : [])]) if (!through.has(p)) through.set(p, members[i]);
  });
  through.delete(seed);
  const attached = new Set(session.attached().filter((n) => !n.down).map((n) => n.node));
  const wanted = [...through.keys()].filter((p) => !attached.has(p));
  const results = await Promise.allSettled(wanted.map((p) => session.connectPeer(p, through.get(p)!, timeoutMs)));
  const lines: string[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") lines.push(describeNode(r.value));
    else lines.push(`Could not attach to ${wanted[i]}: ${(r.reason as Error).message}\n`);
  });
  const failed = results.filter((r) => r.status === "rejected").length;
  const total = session.attached().filter((n) => !n.down).length;
  const skipped = hidden ? "" : peers.hidden.length ? `; ${peers.hidden.length} hidden peer${peers.hidden.length === 1 ? "" : "s"} not attached (--hidden attaches them)` : "";
  const visible = [...through.keys()].filter((p) => !peers.hidden.includes(p)).length;
  lines.push(
    `Cluster of ${seed}: ${visible} visible peer${visible === 1 ? "" : "s"}${hidden ? `, ${peers.hidden.length} hidden` : ""}; ` +
      `${wanted.length - failed} newly attached${failed ? `, ${failed} could not be` : ""}${skipped}. ${total} node${total === 1 ? "" : "s"} attached in all.\n`,
  );
  ctx.io.stream("stdout", lines.join(""));
  return session.attached().filter((n) => !n.down);
}

async function readCookie(flags: { "cookie-env"?: string; "cookie-file"?: string }, io: { input(p: string, o?: { password?: boolean }): Promise<string> }): Promise<string | null> {
  if (flags["cookie-env"] && flags["cookie-file"]) throw new MagicUsageError("%connect: give --cookie-env or --cookie-file, not both.");
  if (typeof flags["cookie-env"] === "string") {
    hideFromChildren(flags["cookie-env"]);
    const v = process.env[flags["cookie-env"]];
    if (!v) throw new MagicUsageError(`%connect: the environment variable ${flags["cookie-env"]} is not set.`);
    return checkCookie(v.trim(), `the environment variable ${flags["cookie-env"]}`);
  }
  if (typeof flags["cookie-file"] === "string") {
    let text: string;
    try {
      text = readFileSync(flags["cookie-file"], "utf8");
    } catch (e) {
      throw new MagicUsageError(`%connect: cannot read the cookie file ${flags["cookie-file"]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
    }
    return checkCookie(text.trim(), `the cookie file ${flags["cookie-file"]}`);
  }
  try {
    const answer = await io.input("Cookie (empty for ~/.erlang.cookie): ", { password: true });
    return answer.trim() || null;
  } catch {
    return null; // no stdin here (nbconvert): the user's ~/.erlang.cookie
  }
}

/**
 * A cookie is an Erlang atom: one line of at most 255 printable characters. What is wrong is said without
 * ever showing the text (a wrong file could be a private key).
 */
export function checkCookie(cookie: string, source: string): string {
  if (!cookie) throw new MagicUsageError(`%connect: ${source} is empty.`);
  const chars = [...cookie].length;
  if (chars > 255) throw new MagicUsageError(`%connect: ${source} holds ${chars} characters, and a cookie is at most 255 on one line: is it the right file?`);
  if (/[\x00-\x1f\x7f]/.test(cookie)) throw new MagicUsageError(`%connect: ${source} is not a cookie (it has line breaks or control characters): is it the right file?`);
  return cookie;
}

export const nodes = defineMagic({
  name: "nodes",
  kind: "line",
  summary: "List the attached nodes: up, or down since when and why (the next magic that needs it attaches again).",
  details: `One row per attached node (OTP and Elixir versions, processes, up or down since when and why), and
after %connect NODE --cluster, one per node of that cluster that is not attached: the cluster column says
whether it is a visible or a hidden peer, and when a node joined or left the cluster after it was attached.`,
  showsResult: true,
  async run(_call, ctx) {
    return nodesTable(ctx.beam.attached(), ctx.beam.clusterPeers());
  },
});

export const disconnect = defineMagic({
  name: "disconnect",
  kind: "line",
  summary: "Detach from a node (default: all): its probes end, the agent removes its traces and unloads itself.",
  positionals: [{ name: "NODE", help: "the node to detach from", optional: true, completes: "nodes" }],
  showsResult: false,
  async run({ args }, ctx) {
    const session = ctx.beam;
    const targets = args.positionals.NODE !== undefined ? [session.node(args.positionals.NODE).node] : session.attached().map((n) => n.node);
    if (targets.length === 0) throw new MagicUsageError("%disconnect: no node is attached.");
    for (const node of targets) {
      await session.disconnect(node);
      ctx.io.stream("stdout", `Detached from ${node}: its probes ended and nothing of ElixirLumin is left on it.\n`);
    }
  },
});

/** %connect, %nodes, %disconnect: attach to running nodes (hidden connections) and detach, leaving nothing behind. */
import { readFileSync } from "node:fs";
import { defineMagic, MagicUsageError } from "../kernel/magics/declaration";
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

Example:
  %connect shop@localhost --cookie-env SHOP_COOKIE`,
  positionals: [{ name: "NODE", help: "the node's name, name@host" }],
  flags: [
    { name: "cookie-env", takes: "value", valueName: "VAR", help: "read the cookie from this environment variable" },
    { name: "cookie-file", takes: "value", valueName: "PATH", help: "read the cookie from this file" },
    { name: "timeout", takes: "value", type: "duration", default: "5s", valueName: "DURATION", help: "how long to wait for the node" },
  ],
  showsResult: false,
  async run({ args }, ctx) {
    const node = args.positionals.NODE;
    if (!NODE_NAME.test(node)) throw new MagicUsageError(`%connect: "${node}" is not a node name; write it as name@host.`);
    const cookie = await readCookie(args.flags, ctx.io);
    const info = await ctx.beam.connect(node, cookie, args.flags.timeout);
    ctx.io.stream("stdout", describeNode(info));
    return info;
  },
});

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
  showsResult: true,
  async run(_call, ctx) {
    return nodesTable(ctx.beam.attached());
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

/**
 * Real BEAM nodes for the integration tests: plain `erl` targets started with a name and a cookie, and a
 * separate checker node that looks at a target from outside (what is loaded, traced, running) over an RPC.
 * Every node gets a unique name, and `stop` leaves nothing running.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, startKernel, stdout, texts, type KernelClient } from "./jupyter";

export const HOST = os.hostname().split(".")[0];

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString("hex")}`;
}

export function randomCookie(): string {
  return `C${randomBytes(12).toString("hex").toUpperCase()}`;
}

function registered(): string[] {
  try {
    return execFileSync("epmd", ["-names"], { encoding: "utf8" })
      .split("\n")
      .map((l) => /^name (\S+) at port/.exec(l)?.[1])
      .filter((n): n is string => Boolean(n));
  } catch {
    return [];
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A plain Erlang node: no Elixir in its code path. */
export class ErlNode {
  readonly node: string;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    readonly cookie: string,
    extraArgs: string[] = [],
  ) {
    this.node = `${name}@${HOST}`;
    execFileSync("epmd", ["-daemon"]);
    this.child = spawn("erl", ["-sname", name, "-setcookie", cookie, "-noshell", "-noinput", ...extraArgs], { stdio: "ignore" });
  }

  static async start(prefix = "target", o: { cookie?: string; args?: string[] } = {}): Promise<ErlNode> {
    const n = new ErlNode(uniqueName(prefix), o.cookie ?? randomCookie(), o.args);
    await waitFor(() => registered().includes(n.name), 15_000, `${n.node} to register with epmd`);
    return n;
  }

  /** The node's OS process id. */
  get osPid(): number {
    return this.child.pid!;
  }

  /** Evaluate an Erlang expression on this node from a separate hidden checker node; the result as text (~0p). */
  eval(expr: string): string {
    return erlEvalOn(this.node, this.cookie, expr);
  }

  stop(): void {
    this.child.kill("SIGKILL");
  }
}

/**
 * `count` plain Erlang nodes sharing one cookie, connected to each other (a visible cluster, as
 * `net_kernel:connect_node/1` makes it), each started with `args` (e.g. `-pa DIR`).
 */
export async function startCluster(count: number, prefix: string, args: string[] = []): Promise<ErlNode[]> {
  const cookie = randomCookie();
  const nodes = await Promise.all(Array.from({ length: count }, () => ErlNode.start(prefix, { cookie, args })));
  const others = nodes.slice(1).map((n) => `'${n.node}'`).join(", ");
  const joined = nodes[0].eval(`[net_kernel:connect_node(N) || N <- [${others}]]`);
  if (joined.includes("false")) throw new Error(`the cluster did not form: ${joined}`);
  return nodes;
}

/**
 * Evaluate `expr` (Erlang, ending without a dot) on `node` from a fresh hidden node, and return the result as
 * `~0p` text. Each call starts and stops its own checker node, so no state leaks between checks.
 */
export function erlEvalOn(node: string, cookie: string, expr: string): string {
  const script = [
    `{ok, Ts, _} = erl_scan:string(${JSON.stringify(expr + ".")})`,
    `{ok, Es} = erl_parse:parse_exprs(Ts)`,
    `R = case rpc:call('${node}', erl_eval, exprs, [Es, []], 10000) of {value, V, _} -> V; Other -> {rpc_failed, Other} end`,
    `io:format("~0p", [R])`,
    `halt()`,
  ].join(", ");
  return execFileSync("erl", checkerArgs(cookie, script), { encoding: "utf8", timeout: 30_000 }).trim();
}

/** A fresh hidden node, with a unique name, that runs `script` and halts. */
function checkerArgs(cookie: string, script: string): string[] {
  return ["-sname", uniqueName("check"), "-hidden", "-setcookie", cookie, "-noshell", "-eval", script];
}

/**
 * Evaluate an Erlang expression list ON a fresh hidden checker node (not on the target), without blocking this
 * process: `Node` is bound to the target's node name. The result as `~0p` text.
 */
export function checkerRun(target: string, cookie: string, exprs: string): Promise<string> {
  const script = `Node = '${target}', R = begin ${exprs} end, io:format("~0p", [R]), halt().`;
  return new Promise((resolve, reject) => {
    execFile("erl", checkerArgs(cookie, script), { encoding: "utf8", timeout: 60_000 }, (err, out) =>
      err ? reject(err) : resolve(out.trim()),
    );
  });
}

/** Run a cell whose last statement logs JSON, and parse it. */
export async function cellJson<T = any>(k: KernelClient, code: string, timeout = 60): Promise<T> {
  const r = await k.execute(code, { timeout });
  const err = r.messages.find((m) => m.msg_type === "error");
  if (err) throw new Error(`cell failed: ${err.content.ename}: ${err.content.evalue}\n${code}`);
  const out = stdout(r).trim().split("\n").pop() ?? "";
  return JSON.parse(out) as T;
}

/** The error message a cell produced (its evalue), or throws when the cell succeeded. */
export async function cellError(k: KernelClient, code: string): Promise<string> {
  const r = await k.execute(code);
  const err = r.messages.find((m) => m.msg_type === "error");
  if (!err) throw new Error(`expected an error from: ${code}`);
  return String(err.content.evalue);
}

/** The name of the node the kernel is attached to, from inside the kernel. */
export async function attachedNode(k: KernelClient): Promise<string> {
  return cellJson<string>(k, "const nodeName1 = %erlang node()\nconsole.log(JSON.stringify(String(nodeName1)))");
}

/** The sample Mix app the tests probe (absolute: kernels run in a folder outside the repository). */
export const SHOP_APP = path.join(ROOT, "notebooks", "apps", "shop");

/** A kernel attached to the sample app on a node it starts (named `name`); fails loudly when it cannot. */
export async function startShopKernel(name: string): Promise<KernelClient> {
  const k = await startKernel();
  const r = await k.execute(`%node start ${name} --app ${SHOP_APP}`, { timeout: 180 });
  if (!stdout(r).includes(`Attached to ${name}@`)) {
    await k.shutdown();
    throw new Error(`%node start ${name} failed: ${JSON.stringify(r.messages.map((m) => m.content))}`);
  }
  return k;
}

/** Run a %%elixir cell; its result as the node's inspect text (throws with the cell's error). */
export async function elixirCell(k: KernelClient, code: string): Promise<string> {
  const r = await k.execute(`%%elixir\n${code}`, { timeout: 60 });
  const err = r.messages.find((m) => m.msg_type === "error");
  if (err) throw new Error(`elixir cell failed: ${err.content.evalue}\n${code}`);
  return texts(r, "display_data").join("");
}

/** Every process under `root` (itself included). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/**
 * A BEAM node in a network namespace of its own (`ip netns`), reached from this machine over a veth pair the
 * test makes, so that the link to it can really be cut (`cutLink`: the root side of the pair goes down) while
 * the node runs on. It has its own epmd in the namespace and a long name on its veth address. A checker
 * started inside the namespace can still look at it after the cut. Needs root (CAP_NET_ADMIN); `destroy`
 * removes the node, its epmd, the pair and the namespace.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { waitFor } from "./beam";

export class NetnsNode {
  readonly node: string;
  private child?: ChildProcess;

  private constructor(
    readonly name: string,
    readonly cookie: string,
    private readonly ns: string,
    private readonly veth: string,
    private readonly address: string,
  ) {
    this.node = `${name}@${address}`;
  }

  /** Make the namespace and the pair, start epmd and the node in it; fails with what `ip` said when not permitted. */
  static async start(name: string, cookie: string, args: string[] = []): Promise<NetnsNode> {
    const tag = randomBytes(3).toString("hex");
    const ns = `lumin_${tag}`;
    const veth = `lv${tag}a`;
    const peer = `lv${tag}b`;
    const b = 1 + (parseInt(tag.slice(0, 2), 16) % 250);
    const c = (parseInt(tag.slice(2, 4), 16) % 63) * 4;
    const [near, far] = [`10.231.${b}.${c + 1}`, `10.231.${b}.${c + 2}`];
    const ip = (...a: string[]) => execFileSync("ip", a, { stdio: "pipe" });
    ip("netns", "add", ns);
    const n = new NetnsNode(name, cookie, ns, veth, far);
    try {
      ip("link", "add", veth, "type", "veth", "peer", "name", peer);
      ip("link", "set", peer, "netns", ns);
      ip("addr", "add", `${near}/30`, "dev", veth);
      ip("link", "set", veth, "up");
      ip("netns", "exec", ns, "ip", "addr", "add", `${far}/30`, "dev", peer);
      ip("netns", "exec", ns, "ip", "link", "set", peer, "up");
      ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
      ip("netns", "exec", ns, "epmd", "-daemon");
      n.child = spawn("ip", ["netns", "exec", ns, "erl", "-name", n.node, "-setcookie", cookie, "-noshell", "-noinput", ...args], { stdio: "ignore" });
      await waitFor(() => n.inside("epmd", "-names").includes(`name ${name} `), 15_000, `${n.node} to register with the namespace's epmd`);
      return n;
    } catch (e) {
      n.destroy();
      throw e;
    }
  }

  private inside(...cmd: string[]): string {
    try {
      return execFileSync("ip", ["netns", "exec", this.ns, ...cmd], { encoding: "utf8", stdio: "pipe" });
    } catch {
      return "";
    }
  }

  /**
   * From a hidden checker node inside the namespace, look at the node every 50 ms until nothing of
   * ElixirLumin is on it (no agent process, no agent module, no traced process); resolves with that moment
   * (ms since the epoch, this machine's clock), rejects after `timeoutMs`.
   */
  watchUntilClean(timeoutMs: number): Promise<number> {
    const script =
      `Node = '${this.node}', Until = erlang:monotonic_time(millisecond) + ${timeoutMs}, ` +
      `Clean = fun() -> rpc:call(Node, erlang, whereis, [lumin_agent], 1000) =:= undefined andalso ` +
      `[M || {M, _} <- rpc:call(Node, code, all_loaded, [], 1000), lists:prefix("lumin", atom_to_list(M))] =:= [] andalso ` +
      `[P || P <- rpc:call(Node, erlang, processes, [], 1000), case rpc:call(Node, erlang, trace_info, [P, flags], 1000) of {flags, [_ | _]} -> true; _ -> false end] =:= [] end, ` +
      `Loop = fun L() -> case catch Clean() of true -> io:format("~b", [os:system_time(millisecond)]); _ -> ` +
      `case erlang:monotonic_time(millisecond) > Until of true -> io:format("timeout: ~0p", [catch {rpc:call(Node, erlang, whereis, [lumin_agent], 1000), [M || {M, _} <- rpc:call(Node, code, all_loaded, [], 1000), lists:prefix("lumin", atom_to_list(M))]}]); false -> timer:sleep(50), L() end end end, ` +
      `Loop(), halt().`;
    return new Promise((resolve, reject) => {
      const checker = spawn("ip", ["netns", "exec", this.ns, "erl", "-name", `chk_${randomBytes(3).toString("hex")}@${this.address}`, "-hidden", "-setcookie", this.cookie, "-noshell", "-eval", script]);
      let out = "";
      checker.stdout.on("data", (d) => (out += d));
      checker.on("exit", () => (/^\d+$/.test(out.trim()) ? resolve(Number(out.trim())) : reject(new Error(`the far node was not clean in time: ${out}`))));
    });
  }

  /** Cut the link: the root side of the veth pair goes down; the node and its namespace run on. */
  cutLink(): void {
    execFileSync("ip", ["link", "set", this.veth, "down"], { stdio: "pipe" });
  }

  destroy(): void {
    this.child?.kill("SIGKILL");
    // Every process in the namespace is this test's: the node, its epmd, checkers.
    let pids: string[] = [];
    try {
      pids = execFileSync("ip", ["netns", "pids", this.ns], { encoding: "utf8", stdio: "pipe" }).split(/\s+/).filter(Boolean);
    } catch {
      /* no namespace */
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* gone */
      }
    }
    try {
      execFileSync("ip", ["link", "del", this.veth], { stdio: "pipe" });
    } catch {
      /* went with the namespace */
    }
    try {
      execFileSync("ip", ["netns", "del", this.ns], { stdio: "pipe" });
    } catch {
      /* gone */
    }
  }
}

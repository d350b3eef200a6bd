/**
 * %record DIR / %replay DIR: a notebook's evidence saved as it runs, and the notebook re-run from it with no
 * node at all (kernel/recording/). Both go at the top of a notebook, before any magic that talks to a node.
 */
import path from "node:path";
import { defineMagic, MagicUsageError, type MagicContext } from "../kernel/magics/declaration";

/** A tape goes in place before the BEAM session is made, once per kernel. */
function mustComeFirst(ctx: MagicContext, name: string): void {
  const { tape, beamStarted } = ctx.recording;
  if (tape) {
    throw new MagicUsageError(`%${name}: this kernel is already ${tape.mode === "record" ? "recording to" : "replaying"} ${tape.dir}; restart the kernel to ${name} again.`);
  }
  if (beamStarted) {
    throw new MagicUsageError(`%${name} must come before the notebook's first node magic, and this kernel has already used the BEAM: restart the kernel and run %${name} first.`);
  }
}

export const record = defineMagic({
  name: "record",
  kind: "line",
  summary: "Record everything this notebook gets from nodes into a folder, so it can be re-run from it with no node (%replay).",
  details: `Put it at the top of the notebook, before any magic that talks to a node. As the notebook runs, DIR
gets manifest.json (format and kernel versions, nodes with their OTP and Elixir versions, the time range, the
redaction policy in force, sizes, and every request to a node in order with the cell and magic that asked),
timeline.jsonl (requests, replies and what nodes sent, in order), one Arrow file per probe's table and per
snapshot (pandas, polars and DuckDB read them), and JSON per %elixir / %erlang / %state / %info result.
A recording already in DIR is replaced. Cookies are never recorded.

Example:
  %record recordings/latency-spike`,
  positionals: [{ name: "DIR", help: "the folder to record into (made if missing; relative to the notebook's folder)" }],
  showsResult: false,
  async run({ args }, ctx) {
    mustComeFirst(ctx, "record");
    const { Recorder } = require("../kernel/recording/recorder") as typeof import("../kernel/recording/recorder");
    const dir = path.resolve(args.positionals.DIR);
    ctx.recording.start((host) => new Recorder(dir, host));
    ctx.io.stream("stdout", `Recording what nodes send to ${args.positionals.DIR}: %replay ${args.positionals.DIR} in this place re-runs the notebook from it, with no node.\n`);
    return dir;
  },
});

export const replay = defineMagic({
  name: "replay",
  kind: "line",
  summary: "Re-run this notebook from a recording made by %record, with no node: node magics are answered from it.",
  details: `Put it where %record was. Magics that act on a node (%connect, %node start, %probe, %%elixir,
%top, %state, %disconnect, …) are answered from the recording, in the order the notebook asked them, and each
such cell says it was replayed; %events, %chart, %explain, %export and the analysis functions work unchanged.
A cell whose magic is not the one recorded at that point (the notebook changed) fails with an error naming it
and what was recorded there. The recording is checked first: a missing manifest, a newer format, a damaged
or truncated file is an error here.

Example:
  %replay recordings/latency-spike`,
  positionals: [{ name: "DIR", help: "the folder %record wrote" }],
  showsResult: false,
  async run({ args }, ctx) {
    mustComeFirst(ctx, "replay");
    const { Replayer } = require("../kernel/recording/replayer") as typeof import("../kernel/recording/replayer");
    const replayer = ctx.recording.start((host) => new Replayer(path.resolve(args.positionals.DIR), host));
    const m = replayer.manifest;
    const nodes = m.nodes.map((n) => `${n.node} (OTP ${n.otp_release}${n.elixir_version ? `, Elixir ${n.elixir_version}` : ""})`).join(", ") || "none";
    ctx.io.stream(
      "stdout",
      `Replaying ${args.positionals.DIR}: recorded by ElixirLumin ${m.kernel.version} from ${m.recorded.start} to ${m.recorded.end}; ` +
        `nodes ${nodes}; ${m.requests.length} requests; redaction ${m.redaction.note}. No node is used: node magics are answered from the recording.\n`,
    );
    return m;
  },
});

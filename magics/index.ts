/**
 * Every magic of this package, in the order %lsmagic lists them. To add one: write magics/<family>.ts with
 * its declaration(s), import it here, and add it to the list — nothing else changes. The kernel makes its
 * registry from this list (kernel/main.ts), the one place the kernel imports magics/.
 */
import type { Magic } from "../kernel/magics/declaration";
import { lsmagic } from "./lsmagic";
import { time } from "./time";
import { html, markdown, svg } from "./displayMagics";
import { connect, disconnect, nodes } from "./connect";
import { node } from "./node";
import { elixir, erlang } from "./eval";
import { disarm, drop, probe, probes } from "./probe";
import { events } from "./events";
import { apps, ets, info, state, top, tree } from "./snapshots";
import { chart } from "./chart";
import { explain } from "./explain";
import { exportReport } from "./export";
import { capture } from "./capture";
import { record, replay } from "./record";
import { whatif } from "./whatif";
import { redact } from "./redact";
import { suggestTests } from "./suggestTests";

export const MAGICS: readonly Magic[] = [
  lsmagic, time, html, markdown, svg,
  connect, nodes, disconnect, node, elixir, erlang,
  probe, probes, disarm, drop, events,
  top, tree, apps, ets, state, info,
  chart, explain, exportReport, capture, redact, record, replay,
  whatif, suggestTests,
];

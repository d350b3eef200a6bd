/**
 * Every magic the kernel knows, in the order %lsmagic lists them. To add one: write magics/<family>.ts with
 * its declaration(s), import it here, and add it to the list — nothing else changes.
 */
import type { MagicDeclaration } from "./declaration";
import { lsmagic } from "./lsmagic";
import { time } from "./time";
import { html, markdown, svg } from "./displayMagics";
import { connect, disconnect, nodes } from "./connect";
import { node } from "./node";
import { elixir, erlang } from "./eval";
import { disarm, probe, probes } from "./probe";
import { events } from "./events";
import { apps, ets, info, state, top, tree } from "./snapshots";
import { chart } from "./chart";
import { explain } from "./explain";
import { exportReport } from "./export";
import { capture } from "./capture";

const MAGICS: MagicDeclaration[] = [
  lsmagic, time, html, markdown, svg,
  connect, nodes, disconnect, node, elixir, erlang,
  probe, probes, disarm, events,
  top, tree, apps, ets, state, info,
  chart, explain, exportReport, capture,
];

export function allMagics(): readonly MagicDeclaration[] {
  return MAGICS;
}

export function findMagic(name: string): MagicDeclaration | undefined {
  return MAGICS.find((m) => m.name === name);
}

/** Add magics at start-up (used by families loaded on demand). */
export function registerMagics(...magics: MagicDeclaration[]): void {
  for (const m of magics) if (!findMagic(m.name)) MAGICS.push(m);
}

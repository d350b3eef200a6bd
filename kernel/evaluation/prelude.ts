/**
 * The cell scope: every name exported here can be used in any TypeScript cell without an import
 * (the evaluator imports them once, before the first cell). Keep it to the user's vocabulary.
 */
import { currentOutput, isReplaying } from "./currentOutput";
import type { DisplayOptions } from "./cellIO";
import { isTable, TablePageView } from "../display/tableBundle";

// Arquero (`aq`, `op`, `desc`, `escape`) joins the scope in tsEvaluator.ts, imported by cells' own compiler from
// the arquero this package depends on, so that its types resolve in any folder as an application's would.
/** Analysis over probe tables (kernel/analysis) and the charts drawn from them (kernel/charts). */
export { latencyTable, callTree, outliers, mailboxGrowth, correlateLogs, frequentSequences, explain } from "../analysis";
export { latencyChart, timelineChart, sequenceChart, flameChart, treeChart, stateHistoryChart, metricsChart, whatifChart, summaryChart } from "../charts";
export { toDanfo } from "../tables/toDanfo";
export { predict, reveal } from "../tours/predict";

/** Show a value in the cell's output (tables, charts, terms, anything); with `displayId`, update it later. */
export function display(value: unknown, options?: DisplayOptions): void {
  currentOutput().display(value, options);
}

/**
 * Show a page of a table: `show(t, { offset: 20 })` for rows 21–40, `show(t, { offset: 100, limit: 100 })`;
 * at most 1,000 rows a page. The table itself is unchanged (display(t) still shows its first page).
 */
export function show(table: unknown, page: { offset?: number; limit?: number } = {}): void {
  if (!isTable(table)) throw new TypeError("show(table, { offset, limit }) takes an Arquero table; use display() for other values");
  currentOutput().display(new TablePageView(table, page));
}

/** Replace an earlier output shown with `display(value, { displayId })`. */
export function updateDisplay(displayId: string, value: unknown): void {
  currentOutput().updateDisplay(displayId, value);
}

/** Clear this cell's output (`wait`: only when the next output arrives, to avoid flicker). */
export function clearOutput(wait = false): void {
  currentOutput().clearOutput(wait);
}

/**
 * True while the notebook runs under `%replay`: every node magic is answered from the recording, so a cell that
 * starts nodes by itself (rather than with %node start) skips that — `if (!replaying()) { … }`.
 */
export function replaying(): boolean {
  return isReplaying();
}

/** Ask the user for a line of text (`{ password: true }` hides what they type). */
export function input(prompt = "", options?: { password?: boolean }): Promise<string> {
  return currentOutput().input(prompt, options);
}

declare global {
  /** What `%magic` lines inside TypeScript become (see kernel/evaluation/cellSource.ts). */
  function __lumin_magic__(name: string, args: string, statement?: boolean): Promise<any>;
}

/**
 * What a what-if table says, row by row, in the words the chart's legend and %explain use: one status per
 * replay (same result, different, would call, timed out, not replayed), shared so the two never disagree.
 */
import type { ColumnTable } from "./aq";
import { values } from "./columns";

export const WHATIF_STATUSES = ["same result", "different", "same? unknown", "would call out", "timed out", "not replayed"] as const;
export type WhatIfStatus = (typeof WHATIF_STATUSES)[number];

/** Each row's status, in the table's row order. */
export function whatifStatuses(t: ColumnTable): WhatIfStatus[] {
  const outcome = values<string>(t, "outcome");
  const same = values<boolean | null>(t, "same");
  return Array.from({ length: t.numRows() }, (_, i) => {
    if (outcome[i] === "would_call") return "would call out";
    if (outcome[i] === "timeout") return "timed out";
    if (outcome[i] === "not_replayed") return "not replayed";
    return same[i] === true ? "same result" : same[i] === false ? "different" : "same? unknown";
  });
}

/** The analysis library: functions that take probe tables and return Arquero tables (or sentences). */
export { aq, type ColumnTable } from "./aq";
export { latencyTable, type LatencyOptions } from "./latency";
export { callTree } from "./callTree";
export { outliers, type OutlierOptions } from "./outliers";
export { mailboxGrowth, type MailboxGrowthOptions } from "./mailboxGrowth";
export { correlateLogs, type CorrelateOptions } from "./correlate";
export { frequentSequences, SEQUENCE_SEPARATOR, type SequenceOptions } from "./sequences";
export { explain } from "./explain";
export { percentileNearestRank, medianSorted, formatUs } from "./stats";
export { mfaLabel, mfaColumn } from "./columns";

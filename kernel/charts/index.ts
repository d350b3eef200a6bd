/** The chart library: functions that take probe tables and return Vega-Lite v5 specs (display() draws them). */
export { latencyChart, type LatencyChartOptions } from "./latencyChart";
export { timelineChart, type TimelineOptions } from "./timelineChart";
export { sequenceChart, PROTOCOLS, type SequenceOptions } from "./sequenceChart";
export { flameChart, flameNodes, type FlameNode, type FlameOptions } from "./flameChart";
export { treeChart, treeLayout, type TreeChartOptions, type TreeNode } from "./treeChart";
export { stateHistoryChart, textDiff, type StateHistoryOptions } from "./stateHistoryChart";
export { summaryChart, type SummaryChartOptions } from "./summaryChart";
export { metricsChart, errorMarkers, METRIC_SERIES, type MetricsChartOptions } from "./metricsChart";
export { baseSpec, themeConfig, CATEGORY, GREY, ALERT, VEGA_LITE_SCHEMA, type ChartSpec } from "./theme";
export { MAX_VALUES, countDataValues, evenPositions, topPositions } from "./data";
export { markItems, countMarks } from "./svgMarks";
export { whatifChart } from "./whatifChart";

/**
 * What a process was doing just before it logged: for each log row, the calls or messages of the same pid
 * (and node) in the window before the log event. Calls count from their start, messages from their send or
 * receive time; a message belongs to both its sender and its receiver.
 */
import { aq, type ColumnTable } from "./aq";
import { hasColumn, numbers, requireColumns, rowNumbers, texts } from "./columns";

export interface CorrelateOptions {
  /** How far before each log row to look, µs (100 000 = 100 ms). */
  windowUs?: number;
}

/**
 * One row per (log row, event) pair: log_index (the log's row position), log_time_us, log_level,
 * log_message, before_us (log time − event time), event_index (the event's row position), then every
 * column of `events`. Ordered by log, then event time.
 */
export function correlateLogs(logs: ColumnTable, events: ColumnTable, options: CorrelateOptions = {}): ColumnTable {
  const windowUs = options.windowUs ?? 100_000;
  requireColumns(logs, ["time_us", "pid"], "correlateLogs (logs)");
  const isCalls = hasColumn(events, "start_us");
  const timeCol = isCalls ? "start_us" : "time_us";
  const pidCols = isCalls ? ["pid"] : ["from_pid", "to_pid"];
  requireColumns(events, [timeCol, ...pidCols], "correlateLogs (events)");
  const byNode = hasColumn(logs, "node") && hasColumn(events, "node");

  // Event positions per process, in time order.
  const evTime = numbers(events, timeCol);
  const evNode = byNode ? texts(events, "node") : null;
  const evPids = pidCols.map((c) => texts(events, c));
  const perProc = new Map<string, number[]>();
  for (let i = 0; i < evTime.length; i++) {
    const seen = new Set<string>();
    for (const pids of evPids) {
      const pid = pids[i];
      if (pid == null || seen.has(pid)) continue;
      seen.add(pid);
      const key = `${evNode ? evNode[i] : ""}\u0000${pid}`;
      let list = perProc.get(key);
      if (!list) perProc.set(key, (list = []));
      list.push(i);
    }
  }
  for (const list of perProc.values()) list.sort((a, b) => evTime[a] - evTime[b] || a - b);

  const logTime = numbers(logs, "time_us");
  const logPid = texts(logs, "pid");
  const logNode = byNode ? texts(logs, "node") : null;
  const level = hasColumn(logs, "level") ? texts(logs, "level") : null;
  const message = hasColumn(logs, "message") ? texts(logs, "message") : null;
  const pairs: { log: number; ev: number }[] = [];
  for (let l = 0; l < logTime.length; l++) {
    const pid = logPid[l];
    if (pid == null) continue;
    const list = perProc.get(`${logNode ? logNode[l] : ""}\u0000${pid}`);
    if (!list) continue;
    const lo = logTime[l] - windowUs;
    // first event at or after lo
    let a = 0;
    let b = list.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (evTime[list[m]] < lo) a = m + 1;
      else b = m;
    }
    for (let k = a; k < list.length && evTime[list[k]] <= logTime[l]; k++) pairs.push({ log: l, ev: list[k] });
  }

  const left = aq.table({
    log_index: pairs.map((p) => p.log),
    log_time_us: pairs.map((p) => logTime[p.log]),
    log_level: pairs.map((p) => (level ? level[p.log] : null)),
    log_message: pairs.map((p) => (message ? message[p.log] : null)),
    before_us: pairs.map((p) => logTime[p.log] - evTime[p.ev]),
    event_index: pairs.map((p) => p.ev),
  });
  const ungrouped = events.ungroup();
  const right = ungrouped.reify(Array.from(rowNumbers(ungrouped, pairs.map((p) => p.ev))));
  return left.assign(right);
}

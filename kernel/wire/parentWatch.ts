/**
 * A kernel must not outlive the process that started it. When Jupyter, nbconvert or a test driver dies without
 * a shutdown_request, an orphaned kernel would keep its bridge and its nodes attached (probes armed on
 * production nodes) and a cell in a busy loop would spin for ever. ipykernel polls its parent for the same
 * reason (ParentPollerUnix); this is that poll.
 *
 * It runs in the wire thread because that thread stays responsive while a cell blocks the main thread: the
 * kernel is asked to shut down as usual, and killed if the main thread cannot answer within `graceMs`.
 */

/** Calls `onGone` once, when the parent process (JPY_PARENT_PID, else the OS parent) has gone. */
export function watchParent(onGone: () => void, intervalMs = 1000): () => void {
  const startedBy = process.ppid;
  const named = Number(process.env.JPY_PARENT_PID);
  const parent = Number.isInteger(named) && named > 1 ? named : startedBy;
  const timer = setInterval(() => {
    if (process.ppid === startedBy && isAlive(parent)) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** After asking for a clean shutdown: the last resort when the main thread is stuck in a cell. */
export function killSelfAfter(graceMs: number): void {
  setTimeout(() => process.kill(process.pid, "SIGKILL"), graceMs).unref();
}

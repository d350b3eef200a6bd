/**
 * A probe's status line: `orders · Shop.Orders.place/2 on shop@host · armed · 1,204 seen, 310/s, 0 dropped`,
 * shown where the probe was armed and updated in place until the probe ends.
 *
 * Where the update goes matters for saved notebooks. nbconvert (nbclient) keeps only messages whose parent is
 * the cell it is running, so an update parented to the cell that armed the probe, sent after that cell
 * finished, never reaches the saved file (it kept reading `armed · 0 seen`). So every update is sent as a child
 * of the cell running now (an `update_display_data` updates its display id in whatever cell holds it — as in
 * IPython, nbclient, JupyterLab and classic Notebook), and the final status is sent once more when the next
 * cell starts, so a probe that ended between cells still ends its line with its final figures.
 */
import type { CellIO, MimeBundle } from "../evaluation/cellIO";
import type { ProbeStatusEvent } from "../beam/protocol";
import { currentOutput, onCellStart } from "../evaluation/currentOutput";
import { wrappingText } from "./textBundle";

/** Live updates at most this often (the final one always goes). */
const UPDATE_EVERY_MS = 500;

export function statusText(s: ProbeStatusEvent): string {
  const rate = s.state === "armed" ? `, ${Math.round(s.rate).toLocaleString("en")}/s` : "";
  const why = s.detail ?? s.why_ended?.replace(/_/g, " ");
  const end = s.state === "ended" && why ? ` — ${why}` : "";
  return `${s.name} · ${s.target} on ${s.node} · ${s.state} · ${s.seen.toLocaleString("en")} seen${rate}, ${s.dropped.toLocaleString("en")} dropped${end}`;
}

export function statusBundle(s: ProbeStatusEvent): MimeBundle {
  return wrappingText(statusText(s));
}

/** What a live line needs of the probe store. */
export interface StatusSource {
  listen(name: string, listener: (s: ProbeStatusEvent) => void): () => void;
}

/** Show `status` in `io` and keep it up to date until the probe ends (and its final line has been saved). */
export function showLiveStatus(name: string, status: ProbeStatusEvent, io: CellIO, source: StatusSource): void {
  const displayId = `probe-${name}-${Date.now()}`;
  const update = (s: ProbeStatusEvent) => currentOutput().updateDisplay(displayId, { [Symbol.for("Jupyter.display")]: () => statusBundle(s) });
  io.displayBundle(statusBundle(status), { displayId });
  if (status.state === "ended") return;
  let last = 0;
  const stop = source.listen(name, (s) => {
    const now = Date.now();
    if (s.state !== "ended" && now - last < UPDATE_EVERY_MS) return;
    last = now;
    update(s);
    if (s.state !== "ended") return;
    stop();
    const off = onCellStart(() => {
      off();
      update(s);
    });
  });
}

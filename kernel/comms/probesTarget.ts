/**
 * The `elixirlumin.probes` comm target: a frontend (a widget, a dashboard, a test) opens a comm to it and
 * gets the probes' statuses live — the current list at once, then each status as it changes — and may send
 * `{ action: "disarm", name }` (or `{ action: "disarm", all: true }`) to end probes from outside a cell.
 */
import type { CommRegistry } from "./commRegistry";
import type { BeamSession } from "../beam/session";

export const PROBES_TARGET = "elixirlumin.probes";

export function registerProbesTarget(comms: CommRegistry, session: () => BeamSession): void {
  comms.registerTarget(PROBES_TARGET, (comm) => {
    const beam = session();
    comm.send({ event: "probes", probes: beam.probes.all().map((p) => p.status) });
    const stop = beam.probes.listenAll((status) => comm.send({ event: "status", probe: status }));
    comm.onClose(stop);
    comm.onMsg((data) => {
      if (data.action !== "disarm") {
        comm.send({ event: "error", message: `unknown action ${JSON.stringify(data.action)}; the one action is "disarm"` });
        return;
      }
      const name = data.all === true ? null : typeof data.name === "string" ? data.name : undefined;
      if (name === undefined) {
        comm.send({ event: "error", message: 'disarm takes { name: "p1" } or { all: true }' });
        return;
      }
      beam.disarm(name).then(
        () => comm.send({ event: "disarmed", name }),
        (e: Error) => comm.send({ event: "error", message: e.message }),
      );
    });
  });
}

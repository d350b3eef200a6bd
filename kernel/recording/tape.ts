/**
 * A tape stands between the kernel's BEAM session and its bridges: under `%record` it tees every request, reply
 * and event into a recording (kernel/recording/recorder.ts); under `%replay` it answers them from one, with no
 * node at all (kernel/recording/replayer.ts). The session sees bridges either way, so every magic, table and
 * chart runs the same code live, recorded and replayed.
 */
import type { BridgeLike } from "../beam/bridge";
import type { BeamSession, NamingMode } from "../beam/session";
import type { ShutdownHooks } from "../dispatch/shutdownHooks";
import type { CellIO } from "../evaluation/cellIO";
import type { RedactionPolicy } from "../redaction/policy";
import type { PictureStore } from "../display/pictureCache";
import type { CompiledCellStore } from "../evaluation/compiledCellStore";

export interface Tape {
  /** `record` or `replay`, and the recording's folder. */
  readonly mode: "record" | "replay";
  readonly dir: string;
  /** The bridge the session uses for each naming mode. */
  readonly bridgeFor: (mode: NamingMode) => BridgeLike;
  /**
   * A magic is starting. What the nodes sent is stamped with how many magics had started when it came, so a
   * replay lets each magic see exactly what had come by then live (rows that came while TypeScript slept).
   */
  magicStarted(): void;
  /** The recording's chart pictures: kept as the notebook draws them (%record), given back (%replay). */
  readonly pictures: PictureStore;
  /** The recording's compiled TypeScript cells: kept as the notebook compiles them (%record), given back (%replay). */
  readonly cells: CompiledCellStore;
}

/** The parts of the kernel a tape works with (kernel/kernelState.ts has them all). */
export interface RecordingHost {
  /** The magic running now, as written, and its cell. */
  readonly asking: { magic: string; cell?: number; cellId?: string } | undefined;
  /** The running cell's output (a replayed cell says so there). */
  readonly output: CellIO | undefined;
  readonly redaction: RedactionPolicy;
  readonly beam: BeamSession;
  readonly beamStarted: boolean;
  readonly shutdown: ShutdownHooks;
  onCellStart(listener: (io: CellIO) => void): () => void;
}

/** What %record and %replay see of the kernel: the tape in use, and how to start one. */
export interface TapeSlot {
  readonly tape: Tape | undefined;
  /** Has a magic used the BEAM yet? A tape must be in place before. */
  readonly beamStarted: boolean;
  /** Put a tape in place (made from the kernel's parts); the BEAM session, made later, uses its bridges. */
  start<T extends Tape>(make: (host: RecordingHost) => T): T;
}

/**
 * Everything a running kernel holds, in one object: kernel/main.ts makes it and passes it down (to the
 * dispatcher, the cell router, magics through their context, the comm targets). Nothing else in the kernel
 * keeps state between requests; the cell scope (display(), console capture), which has no parameter to
 * receive it through, reads it from the one binding made in main.ts (kernel/evaluation/currentOutput.ts).
 */
import { BeamSession } from "./beam/session";
import type { CommRegistry } from "./comms/commRegistry";
import { ShutdownHooks } from "./dispatch/shutdownHooks";
import type { CellEnvironment, CellKernel } from "./evaluation/types";
import type { CellIO } from "./evaluation/cellIO";
import type { HistoryStore } from "./history/historyStore";
import type { MagicRegistry } from "./magics/registry";
import { ReportLog } from "./report/reportLog";
import { RedactionSettings, type RedactionPolicy } from "./redaction/policy";
import type { RecordingHost, Tape, TapeSlot } from "./recording/tape";
import type { PictureStore } from "./display/pictureCache";
import type { CompiledCellStore } from "./evaluation/compiledCellStore";

/** A magic as written (`%probe X --args`, or a `%%elixir` cell with its body) and the cell it runs in. */
export interface AskingMagic {
  magic: string;
  /** The cell's execution count, and its nbformat id when the frontend sends one (nbclient, JupyterLab). */
  cell?: number;
  cellId?: string;
}

export class KernelState implements CellKernel {
  /** The charts and tables shown so far, for %export. */
  readonly report = new ReportLog();
  readonly shutdown = new ShutdownHooks();
  /** The redaction policy and its changes (%redact); every attached node's agent applies it. */
  readonly redactionSettings = new RedactionSettings();
  /** The cell running now: `%magic` lines inside its TypeScript run in its environment. */
  cell: CellEnvironment | undefined;
  private cellOutput: CellIO | undefined;
  private readonly cellStartListeners = new Set<(io: CellIO) => void>();
  private beamSession: BeamSession | undefined;
  /** Under %record or %replay: the tape whose bridges the session uses (set before the first node magic). */
  tape: Tape | undefined;
  /** The magic running now, as written, and its cell: what a recording keys each request by. */
  asking: AskingMagic | undefined;

  constructor(
    readonly magics: MagicRegistry,
    readonly comms: CommRegistry,
    readonly history: HistoryStore,
  ) {}

  /** Where the cell scope's output goes: the running cell's, or after it ends the last one's (as in IPython). */
  get output(): CellIO | undefined {
    return this.cellOutput;
  }

  /** Set as each cell starts; tells the cell-start listeners. */
  set output(io: CellIO | undefined) {
    this.cellOutput = io;
    if (io) for (const l of [...this.cellStartListeners]) l(io);
  }

  /** Called with each new cell's output as it starts (a probe's final status line rides on it into saved notebooks). */
  onCellStart(listener: (io: CellIO) => void): () => void {
    this.cellStartListeners.add(listener);
    return () => this.cellStartListeners.delete(listener);
  }

  /**
   * The redaction policy in force now: what the agents redact before terms leave the nodes. A frozen plain
   * value (JSON as it is) for captures, reports and recordings to state; `%redact` replaces it, never edits it.
   */
  get redaction(): RedactionPolicy {
    return this.redactionSettings.policy;
  }

  /** Under %record or %replay: the recording's chart pictures, reused rather than drawn again. */
  get pictures(): PictureStore | undefined {
    return this.tape?.pictures;
  }

  /** Under %record or %replay: the recording's compiled TypeScript cells, run rather than compiled again. */
  get compiledCells(): CompiledCellStore | undefined {
    return this.tape?.cells;
  }

  /** The kernel's view of the BEAM, made on first use (its bridge starts on its first request). */
  get beam(): BeamSession {
    return (this.beamSession ??= new BeamSession(this.shutdown, () => this.cell?.signal, this.redactionSettings, this.tape?.bridgeFor));
  }

  /** Has a magic used the BEAM yet? (%record and %replay must come first.) */
  get beamStarted(): boolean {
    return this.beamSession !== undefined;
  }

  /** %record and %replay's view: the tape in use, and how to start one. */
  get recording(): TapeSlot {
    const state = this;
    return {
      get tape() {
        return state.tape;
      },
      get beamStarted() {
        return state.beamStarted;
      },
      start<T extends Tape>(make: (host: RecordingHost) => T): T {
        const tape = make(state);
        state.tape = tape;
        return tape;
      },
    };
  }
}

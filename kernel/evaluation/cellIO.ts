/**
 * What running code may do to the notebook: the one interface through which TypeScript cells and magics
 * reach the frontend. The dispatch layer implements it on top of the wire; nothing here knows of ZeroMQ.
 */
export type MimeBundle = Record<string, unknown>;

export interface DisplayOptions {
  /** Give the output an id so it can be updated in place later (`transient.display_id`). */
  displayId?: string;
  metadata?: Record<string, unknown>;
}

export interface CellIO {
  /** Write to the cell's stdout or stderr stream. */
  stream(name: "stdout" | "stderr", text: string): void;
  /** Show a value (converted to a MIME bundle by kernel/display). */
  display(value: unknown, options?: DisplayOptions): void;
  /** Show a ready MIME bundle. */
  displayBundle(bundle: MimeBundle, options?: DisplayOptions): void;
  /** Replace an earlier output shown with the same display id. */
  updateDisplay(displayId: string, value: unknown): void;
  clearOutput(wait?: boolean): void;
  /** Ask the user for a line of text (`input_request`); rejects when the frontend does not allow stdin. */
  input(prompt: string, options?: { password?: boolean }): Promise<string>;
  /** Add a payload to the execute_reply. */
  payload(payload: Record<string, unknown>): void;
  /**
   * Show help text (`%name?`) in the frontend's pager, and as the cell's output where no pager will show it
   * (a headless run such as nbconvert drops `page` payloads).
   */
  page(text: string): void;
}

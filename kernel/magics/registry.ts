/**
 * The magics a kernel knows, in the order %lsmagic lists them. The kernel builds one at start-up from the
 * declarations in magics/ and passes it to whatever needs it (the cell router, completion, %lsmagic through
 * its context): no handler imports the list, so the list can import every handler without a loop.
 */
import type { Magic, MagicList } from "./declaration";

export class MagicRegistry implements MagicList {
  private readonly magics: Magic[];

  constructor(magics: readonly Magic[]) {
    this.magics = [...magics];
  }

  all(): readonly Magic[] {
    return this.magics;
  }

  find(name: string): Magic | undefined {
    return this.magics.find((m) => m.name === name);
  }

  /** Add magics after start-up (families loaded on demand); a name already known is kept as it is. */
  register(...magics: Magic[]): void {
    for (const m of magics) if (!this.find(m.name)) this.magics.push(m);
  }
}

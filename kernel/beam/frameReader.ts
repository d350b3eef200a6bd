/**
 * Splits the bridge's byte stream into frames (a 4-byte big-endian length, then that many bytes).
 *
 * The chunks of a large frame are kept in a list and joined once, when the frame is complete: joining on
 * every chunk, as a plain `Buffer.concat(buf, chunk)` loop does, copies a 300 KB batch a dozen times.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length >= 4) {
      const size = (this.chunks[0].length >= 4 ? this.chunks[0] : this.joined()).readUInt32BE(0);
      if (this.length < 4 + size) return;
      const all = this.joined();
      const rest = all.subarray(4 + size);
      this.chunks = rest.length ? [rest] : [];
      this.length = rest.length;
      this.onFrame(all.subarray(4, 4 + size));
    }
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0];
  }
}

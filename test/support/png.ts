/**
 * Reads a PNG (8-bit RGB/RGBA/grey, not interlaced — what Chromium's screenshots and resvg write) into RGBA
 * pixels, so tests can measure what a page or a chart picture actually shows.
 */
import { inflateSync } from "node:zlib";

export interface Pixels {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel, rows top to bottom. */
  rgba: Uint8Array;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function decodePng(png: Uint8Array): Pixels {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0, height = 0, colour = 0;
  const data: Uint8Array[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      if (body[8] !== 8 || body[12] !== 0) throw new Error("decodePng reads 8-bit, non-interlaced PNGs only");
      colour = body[9];
    } else if (type === "IDAT") data.push(body);
    at += 12 + length;
  }
  const channels = CHANNELS[colour];
  if (!channels) throw new Error(`decodePng: colour type ${colour} is not supported`);
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      cur[i] = (line[i] + predictor) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const s = x * channels;
      if (channels <= 2) out.set([cur[s], cur[s], cur[s], channels === 2 ? cur[s + 1] : 255], o);
      else out.set([cur[s], cur[s + 1], cur[s + 2], channels === 4 ? cur[s + 3] : 255], o);
    }
    prev = cur;
  }
  return { width, height, rgba: out };
}

/** Pixels in a rectangle (all by default) that are visibly not white (on white, transparent counts as white). */
export function nonWhite(p: Pixels, box = { x: 0, y: 0, width: p.width, height: p.height }): number {
  let n = 0;
  for (let y = box.y; y < Math.min(p.height, box.y + box.height); y++) {
    for (let x = box.x; x < Math.min(p.width, box.x + box.width); x++) {
      const o = (y * p.width + x) * 4;
      const alpha = p.rgba[o + 3] / 255;
      const darkest = Math.min(p.rgba[o], p.rgba[o + 1], p.rgba[o + 2]) * alpha + 255 * (1 - alpha);
      if (darkest < 230) n++;
    }
  }
  return n;
}

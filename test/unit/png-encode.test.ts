/** The chart picture's PNG encoder: the same pixels resvg's own encoder writes, and a file every reader takes. */
import { createRequire } from "node:module";
import zlib, { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32ByTable, encodePremultipliedPng } from "../../kernel/display/pngEncode";
import { decodePng } from "../support/png";

const resvg = createRequire(__filename)("@resvg/resvg-js") as typeof import("@resvg/resvg-js");

/** Shapes on a transparent background with anti-aliased, half-transparent edges: every alpha from 0 to 255. */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">
  <circle cx="40" cy="40" r="33" fill="#0072B2" fill-opacity="0.6"/>
  <rect x="50.5" y="10.3" width="60" height="50" fill="#E69F00" opacity="0.35" transform="rotate(7)"/>
  <path d="M5 75 L115 5" stroke="#222" stroke-width="1.3"/>
</svg>`;

describe("encodePremultipliedPng", () => {
  it("writes the pixels resvg's own PNG holds, straight alpha and all", () => {
    const image = new resvg.Resvg(SVG, { fitTo: { mode: "zoom", value: 2 }, logLevel: "off" }).render();
    const ours = decodePng(encodePremultipliedPng(image.width, image.height, image.pixels));
    const theirs = decodePng(image.asPng());
    expect([ours.width, ours.height]).toEqual([240, 160]);
    const partlyClear = theirs.rgba.filter((_, i) => i % 4 === 3 && theirs.rgba[i] > 0 && theirs.rgba[i] < 255).length;
    expect(partlyClear).toBeGreaterThan(500); // the case that needs the division back to straight alpha
    expect(Buffer.from(ours.rgba).equals(Buffer.from(theirs.rgba))).toBe(true);
  });

  it("gives each chunk the CRC-32 PNG readers check", () => {
    const png = encodePremultipliedPng(2, 1, Uint8Array.from([255, 0, 0, 255, 0, 0, 0, 0]));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IEND's CRC is fixed by the specification; IDAT holds the two pixels after a filter byte of 0.
    expect(png.subarray(-8, -4).toString("latin1")).toBe("IEND");
    expect(png.readUInt32BE(png.length - 4)).toBe(0xae426082);
    const idatAt = png.indexOf("IDAT");
    const idat = png.subarray(idatAt + 4, idatAt + 4 + png.readUInt32BE(idatAt - 4));
    expect([...inflateSync(idat)]).toEqual([0, 255, 0, 0, 255, 0, 0, 0, 0]);
  });

  it("computes the same CRC-32 without zlib's, for the Node 20s that lack it", () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251);
    expect(crc32ByTable(data)).toBe(zlib.crc32(data));
    expect(crc32ByTable(Buffer.from("IEND", "latin1"))).toBe(0xae426082);
  });

  it("refuses pixels that do not fill the size given", () => {
    expect(() => encodePremultipliedPng(3, 3, new Uint8Array(12))).toThrow(/12 bytes is not 3 × 3 RGBA pixels/);
  });
});

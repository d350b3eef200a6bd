/**
 * A recording's chart pictures (kernel/recording/pictures.ts) and the cache around drawing a chart
 * (kernel/display/pictureCache.ts): a spec drawn once under %record is given back under %replay, by a hash of
 * exactly that spec, and never drawn again; any other spec is drawn; a replay writes nothing; a recording keeps
 * pictures up to its budget.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cachedPicture, pictureKey } from "../../kernel/display/pictureCache";
import type { Picture, VegaLiteSpec } from "../../kernel/display/vegaBundle";
import { PICTURE_BUDGET, PICTURES, RecordedPictures } from "../../kernel/recording/pictures";

const spec = (n: number): VegaLiteSpec => ({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", mark: "bar", data: { values: [{ n }] } });
const SETTINGS = { density: 2 };
const folders: string[] = [];
const folder = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), "lumin-pictures-"));
  folders.push(d);
  return d;
};
afterEach(() => {
  for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A drawing that counts how often it ran; its PNG bytes say which spec it drew. */
function drawer() {
  const drawn: number[] = [];
  return {
    drawn,
    draw: (n: number, bytes = 16) => async (): Promise<Picture> => {
      drawn.push(n);
      return { png: Buffer.alloc(bytes, n), width: 300 + n, height: 100 };
    },
  };
}

describe("chart pictures in a recording", () => {
  it("keeps each picture drawn under %record and gives it back under %replay without drawing it again", async () => {
    const dir = folder();
    const rec = drawer();
    const recorded = new RecordedPictures(dir, "record");
    const first = await cachedPicture(spec(1), SETTINGS, recorded, rec.draw(1));
    await cachedPicture(spec(1), SETTINGS, recorded, rec.draw(1));
    expect(rec.drawn).toEqual([1]);
    expect(readdirSync(path.join(dir, PICTURES))).toEqual([`${pictureKey(spec(1), SETTINGS)}.301x100.png`]);

    const replay = drawer();
    const replayed = new RecordedPictures(dir, "replay");
    const again = await cachedPicture(spec(1), SETTINGS, replayed, replay.draw(1));
    expect(replay.drawn).toEqual([]);
    expect(again).toEqual(first);
    // Another spec, or the same spec under other picture settings, is drawn — and not written by a replay.
    await cachedPicture(spec(2), SETTINGS, replayed, replay.draw(2));
    await cachedPicture(spec(1), { density: 1 }, replayed, replay.draw(1));
    expect(replay.drawn).toEqual([2, 1]);
    expect(readdirSync(path.join(dir, PICTURES))).toHaveLength(1);
  });

  it("draws every chart of a recording made before pictures were kept, and creates nothing there", async () => {
    const dir = folder();
    const d = drawer();
    await cachedPicture(spec(3), SETTINGS, new RecordedPictures(dir, "replay"), d.draw(3));
    expect(d.drawn).toEqual([3]);
    expect(existsSync(path.join(dir, PICTURES))).toBe(false);
  });

  it("keeps pictures up to the recording's budget; a chart past it is drawn when replayed", async () => {
    const dir = folder();
    const d = drawer();
    const recorded = new RecordedPictures(dir, "record");
    const big = Math.floor(PICTURE_BUDGET / 2) - 1;
    for (const n of [1, 2, 3]) await cachedPicture(spec(n), SETTINGS, recorded, d.draw(n, big));
    expect(readdirSync(path.join(dir, PICTURES))).toHaveLength(2);
    const replay = drawer();
    const replayed = new RecordedPictures(dir, "replay");
    for (const n of [1, 2, 3]) await cachedPicture(spec(n), SETTINGS, replayed, replay.draw(n, big));
    expect(replay.drawn).toEqual([3]);
  });
});

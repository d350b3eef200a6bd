/**
 * A recording's chart pictures (pictures/HASH.WIDTHxHEIGHT.png, HASH from kernel/display/pictureCache.ts): `%record`
 * keeps each picture the notebook drew, `%replay` gives them back, so a replayed chart is not rasterised again.
 * Plain PNG files, as the notebook showed them; the size in the name is the size they are shown at.
 *
 * A replay only reads: the recording is the evidence of the recorded run, and a replay never writes into it.
 * Recordings ship beside notebooks and are kept small, so a recording keeps pictures up to PICTURE_BUDGET bytes
 * in all; a chart past it is drawn again when replayed, as it would be with no picture kept.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { PictureStore } from "../display/pictureCache";
import type { Picture } from "../display/vegaBundle";
import { keptFiles } from "./keptFiles";

export const PICTURES = "pictures";

/** Most bytes of pictures one recording keeps (the latency-spike investigation's three charts take ~200 KB). */
export const PICTURE_BUDGET = 400_000;

const NAME = /^([0-9a-f]{64})\.(\d+)x(\d+)\.png$/;

export class RecordedPictures implements PictureStore {
  /** Each picture's file and the size it is shown at, by its hash. */
  private readonly files: Map<string, { file: string; width: number; height: number }>;
  private bytes = 0;

  constructor(
    private readonly dir: string,
    private readonly mode: "record" | "replay",
  ) {
    // A recording made before pictures were kept has none: every chart is drawn.
    this.files = new Map([...keptFiles(dir, PICTURES, mode, NAME)].map(([key, { file, match }]) => [key, { file, width: Number(match[2]), height: Number(match[3]) }]));
  }

  get(key: string): Picture | undefined {
    const f = this.files.get(key);
    if (!f) return undefined;
    try {
      return { png: readFileSync(f.file), width: f.width, height: f.height };
    } catch {
      return undefined;
    }
  }

  put(key: string, picture: Picture): void {
    if (this.mode !== "record" || this.files.has(key) || this.bytes + picture.png.length > PICTURE_BUDGET) return;
    this.bytes += picture.png.length;
    const file = path.join(this.dir, PICTURES, `${key}.${picture.width}x${picture.height}.png`);
    writeFileSync(file, picture.png);
    this.files.set(key, { file, width: picture.width, height: picture.height });
  }
}

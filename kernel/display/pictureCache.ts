/**
 * A chart's picture is a pure function of its Vega-Lite spec (the data is in the spec) and of how pictures are
 * sized: the same spec always rasterises to the same PNG. So where a store of pictures is at hand — a recording
 * (kernel/recording/pictures.ts) — a picture is looked up by a hash of exactly that, and drawn only when it is not
 * there: a `%replay` shows the pictures the recorded run drew, instead of rasterising each chart again.
 *
 * The cache stands around the drawing, never inside it: a spec that differs in anything (a notebook edited since
 * it was recorded, other data) has another hash and is drawn afresh; a store that cannot give a picture back
 * only means it is drawn.
 */
import { createHash } from "node:crypto";
import type { Picture, VegaLiteSpec } from "./vegaBundle";

export interface PictureStore {
  get(key: string): Picture | undefined;
  put(key: string, picture: Picture): void;
}

/** The picture's address: a SHA-256 of the picture settings and the spec, as JSON. */
export function pictureKey(spec: VegaLiteSpec, settings: unknown): string {
  return createHash("sha256").update(JSON.stringify(settings)).update("\n").update(JSON.stringify(spec)).digest("hex");
}

/** The picture of `spec` from `store`, or drawn by `draw` (and then kept in `store`). */
export async function cachedPicture(spec: VegaLiteSpec, settings: unknown, store: PictureStore | undefined, draw: () => Promise<Picture>): Promise<Picture> {
  if (!store) return draw();
  const key = pictureKey(spec, settings);
  const kept = store.get(key);
  if (kept) return kept;
  const picture = await draw();
  store.put(key, picture);
  return picture;
}

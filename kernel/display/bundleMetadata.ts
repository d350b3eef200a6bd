/**
 * The output metadata that goes with a MIME bundle (e.g. the size to show a PNG at), kept beside the bundle
 * rather than in it, so a bundle stays the plain `data` of a display message and every sender can look up its
 * metadata with one call.
 */
import type { MimeBundle } from "../evaluation/cellIO";

const metadata = new WeakMap<MimeBundle, Record<string, unknown>>();

export function setBundleMetadata(bundle: MimeBundle, meta: Record<string, unknown>): MimeBundle {
  metadata.set(bundle, meta);
  return bundle;
}

/** The bundle's output metadata ({} when it has none). */
export function bundleMetadata(bundle: MimeBundle): Record<string, unknown> {
  return metadata.get(bundle) ?? {};
}

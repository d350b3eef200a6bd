/** Any value a cell shows → a MIME bundle, bounded in size. */
import type { MimeBundle } from "../evaluation/cellIO";
import { cut } from "./limits";
import { plainText } from "./plainText";
import { describeMeta, tableMeta } from "../tables/tableMeta";
import { isTable, pageOf, tableBundle, TablePageView, type TableLike, type TablePage } from "./tableBundle";
import { isVegaLiteSpec, vegaBundle } from "./vegaBundle";
import type { ReportLog } from "../report/reportLog";
import { bundleMetadata, setBundleMetadata } from "./bundleMetadata";
import type { PictureStore } from "./pictureCache";

export { bundleMetadata } from "./bundleMetadata";

/** An object with this method returns its own MIME bundle (the convention tslab and others share). */
export const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");

/** Where what a cell shows is kept besides its output (the kernel's state has both). */
export interface ShownTo {
  /** The report: each chart and table shown, for %export. */
  readonly report?: ReportLog;
  /** Chart pictures already drawn (a recording's, under %record or %replay). */
  readonly pictures?: PictureStore;
}

/** `shownTo`: where a shown chart or table is kept (none: nowhere). */
export async function toMimeBundle(value: unknown, shownTo: ShownTo = {}): Promise<MimeBundle> {
  return bound(await rawBundle(value, shownTo));
}

async function rawBundle(value: unknown, { report, pictures }: ShownTo): Promise<MimeBundle> {
  const own = (value as { [JUPYTER_DISPLAY]?: () => MimeBundle | Promise<MimeBundle> } | null)?.[JUPYTER_DISPLAY];
  if (typeof own === "function") return own.call(value);
  if (value instanceof TablePageView) return shownTable(value.table, value.page, report);
  if (isTable(value)) return shownTable(value, pageOf(value), report);
  if (isVegaLiteSpec(value)) {
    report?.recordChart(value);
    return vegaBundle(value, pictures);
  }
  return { "text/plain": plainText(value) };
}

/** A table under its metadata's caption (a probe's table says what it is), recorded for %export. */
function shownTable(table: TableLike, page: TablePage, report?: ReportLog): MimeBundle {
  const meta = tableMeta(table);
  const caption = meta ? describeMeta(meta) : undefined;
  const bundle = tableBundle(table, caption, page);
  report?.recordTable(String(bundle["text/html"]), caption?.split("\n")[0], { rows: table.numRows(), columns: table.columnNames() });
  return bundle;
}

/** No entry of a bundle is sent whole past the limit: text is cut with a note, oversize JSON replaced by one. */
export function bound(bundle: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, data] of Object.entries(bundle)) {
    if (typeof data === "string") out[mime] = cut(data);
    else if (JSON.stringify(data ?? null).length > 5_000_000) out["text/plain"] = `(${mime} output of more than 5 MB not shown; aggregate or sample the data first)`;
    else out[mime] = data;
  }
  return setBundleMetadata(out, bundleMetadata(bundle));
}

/** Small helpers shared by the benchmarks: medians, rounding, timing, and the JSON line each figure prints. */

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The median of per-repetition ratios, each of two figures measured side by side in the same repetition: on a
 * shared machine the load moves both of a pair alike, so their ratio varies far less than either figure (a
 * ratio of medians pairs one repetition's figure with another's, taken under a different load).
 */
export function medianRatio(ours: readonly number[], theirs: readonly number[]): number {
  return median(ours.map((x, i) => x / theirs[i]));
}

/** Round to `digits` significant decimals (keeps the JSON short without hiding the figure). */
export function round(x: number, digits = 3): number | null {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function nowMs(): number {
  return performance.now();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Two measurements back to back, in turns: `a` first on even repetitions, `b` first on odd ones, so neither
 * always runs on the warmer (or busier) side of the pair.
 */
export async function inTurns(repetition: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<void> {
  const [first, second] = repetition % 2 === 0 ? [a, b] : [b, a];
  await first();
  await second();
}

/** Print one figure as one JSON line on stdout. */
export function emit(figure: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/** Progress notes go to stderr so stdout stays JSON lines only. */
export function note(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

/** A figure that could not be measured: printed as such rather than silently missing. */
export function emitError(bench: string, e: unknown): void {
  const err = e as Error;
  emit({ bench, error: String(err?.message ?? e).slice(0, 2000), meets_target: false });
}

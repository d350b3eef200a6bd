/**
 * The few statistics the analyses share, on sorted float64 arrays: nearest-rank percentiles (exact values
 * that occurred, no interpolation), the median, least-squares slope, and durations as readable text.
 */

/**
 * Nearest-rank percentile of ascending `sorted`: the smallest value such that at least p% of the values are
 * at or below it, i.e. sorted[ceil(p/100 · n) − 1] (p = 0 gives the minimum). NaN when empty.
 */
export function percentileNearestRank(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))];
}

/** The median of ascending `sorted`: the middle value, or the mean of the two middle values. */
export function medianSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = n >> 1;
  return n % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

/** Least-squares slope of y over x (NaN for fewer than two distinct x). */
export function slope(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i];
    sy += y[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i] - mx) * (y[i] - my);
    den += (x[i] - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

/** 850 µs, 12.3 ms, 1.25 s. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  const a = Math.abs(us);
  if (a < 1000) return `${round3(us)} µs`;
  if (a < 1e6) return `${round3(us / 1000)} ms`;
  return `${round3(us / 1e6)} s`;
}

function round3(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

/**
 * Partially orders a[lo…hi] in place so that a[k] holds the value it would hold if sorted, everything
 * before it is ≤ and everything after it ≥ (Floyd–Rivest style quickselect, median-of-three pivots).
 */
export function selectInPlace(a: Float64Array, k: number, lo = 0, hi = a.length - 1): void {
  while (hi > lo) {
    if (hi - lo < 16) {
      for (let i = lo + 1; i <= hi; i++) {
        const v = a[i];
        let j = i - 1;
        while (j >= lo && a[j] > v) {
          a[j + 1] = a[j];
          j--;
        }
        a[j + 1] = v;
      }
      return;
    }
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    let x = a[lo];
    let y = a[mid];
    let z = a[hi];
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Nearest-rank percentiles of unsorted values (no NaN), without a full sort: the array is reordered in
 * place by successive selections. `ps` ascending.
 */
export function percentilesInPlace(a: Float64Array, ps: readonly number[]): number[] {
  const n = a.length;
  if (n === 0) return ps.map(() => NaN);
  let lo = 0;
  return ps.map((p) => {
    const k = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
    if (k >= lo) {
      selectInPlace(a, k, lo, n - 1);
      lo = k;
    }
    return a[k];
  });
}

/** The median of unsorted values (no NaN), by selection; reorders `a`. */
export function medianInPlace(a: Float64Array): number {
  const n = a.length;
  if (n === 0) return NaN;
  const h = n >> 1;
  selectInPlace(a, h);
  if (n % 2) return a[h];
  // a[0…h-1] ≤ a[h]: the other middle value is the largest of them
  let lower = a[0];
  for (let i = 1; i < h; i++) if (a[i] > lower) lower = a[i];
  return (lower + a[h]) / 2;
}

/**
 * Positions of the `k` largest scores (NaN counts as smallest), in ascending position order, ties broken
 * by position. Linear time: a selection finds the threshold, no full sort.
 */
export function topPositions(score: ArrayLike<number>, k: number): number[] {
  const n = score.length;
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  if (k <= 0) return [];
  const copy = new Float64Array(n);
  for (let i = 0; i < n; i++) copy[i] = score[i] === score[i] ? score[i] : -Infinity;
  const kth = n - k;
  selectInPlace(copy, kth);
  const threshold = copy[kth];
  let above = 0;
  for (let i = 0; i < n; i++) if ((score[i] === score[i] ? score[i] : -Infinity) > threshold) above++;
  let ties = k - above;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = score[i] === score[i] ? score[i] : -Infinity;
    if (v > threshold || (v === threshold && ties-- > 0)) out.push(i);
  }
  return out;
}

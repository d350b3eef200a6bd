/**
 * Reading p50, p90 and p99 from a latency sketch's buckets, as the node's lumin_sketch:quantile/2 reads them: for
 * each q, the bucket holding rank floor(q · (n − 1)) counting from the lowest value — the zero bucket first (read
 * as 0), then the buckets in index order — estimated as 2γ^i / (γ + 1), within `alpha` (relative) of every value
 * in it.
 *
 * One walk serves a node's sketch (fed bucket by bucket as its packed binary is read, packedSketches.ts) and an
 * interval's merge (fed from its dense array, sketchMerge.ts): start() it, step() it with each bucket in use
 * from the lowest up; once all three are found, step() does nothing but one comparison.
 */

/** The quantiles every row gives. */
export const SUMMARY_QUANTILES = [0.5, 0.9, 0.99] as const;

export class RankWalk {
  /** p50, p90, p99 once the walk is over; NaN when there were no values. */
  readonly q = new Float64Array(3);
  private readonly rank = new Float64Array(3);
  private seen = 0;
  /** The next of the three to find (3: all found), and its rank (Infinity: all found), so a step compares once. */
  private next = 3;
  private nextRank = Infinity;
  private gamma = 1;

  /** A walk over `n` values, `zero` of them in the zero bucket, at relative accuracy `alpha`. */
  start(n: number, zero: number, max: number, alpha: number): void {
    const q = this.q;
    this.seen = zero;
    if (n === 0) {
      q.fill(NaN);
      this.next = 3;
      this.nextRank = Infinity;
      return;
    }
    this.gamma = (1 + alpha) / (1 - alpha);
    for (let j = 0; j < 3; j++) this.rank[j] = Math.floor(SUMMARY_QUANTILES[j] * (n - 1));
    // A rank past every bucket (counts that do not add up to n) reads as the maximum, as on the node.
    q.fill(max);
    let k = 0;
    while (k < 3 && this.rank[k] < zero) q[k++] = 0;
    this.next = k;
    this.nextRank = k < 3 ? this.rank[k] : Infinity;
  }

  /** The next bucket in use, going up: index `i`, `count` values. */
  step(i: number, count: number): void {
    if ((this.seen += count) > this.nextRank) this.found(i);
  }

  /** Bucket `i` holds the next rank (and maybe the ones after it). */
  private found(i: number): void {
    const estimate = (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
    const rank = this.rank;
    let k = this.next;
    do this.q[k++] = estimate;
    while (k < 3 && rank[k] < this.seen);
    this.next = k;
    this.nextRank = k < 3 ? rank[k] : Infinity;
  }

  /** All three are found. */
  get done(): boolean {
    return this.next === 3;
  }

  /** Quantile j (0: p50, 1: p90, 2: p99), null when there were no values. */
  at(j: number): number | null {
    return Number.isNaN(this.q[j]) ? null : this.q[j];
  }
}

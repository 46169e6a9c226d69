/**
 * The best entries of a score map without sorting all of it. A query of common words scores tens of
 * thousands of chunks, and ranking needs only its best few hundred: sorting every `[chunk, score]` pair with
 * a comparator was most of the ranking's time on a 20,000-file tree.
 *
 * @module
 */

/** Orders by score, highest first, then by chunk id: the order every ranked list uses. */
export function byScore(x: [number, number], y: [number, number]): number {
  return y[1] - x[1] || x[0] - y[0];
}

/**
 * The `n` best entries of `scores` in {@link byScore} order: the same as sorting every entry and keeping the
 * first `n`, ties included. Finds the n-th best score by selection over a typed array, then sorts only the
 * entries at or above it.
 */
export function topEntries(scores: Map<number, number>, n: number): [number, number][] {
  if (n <= 0) return [];
  if (scores.size <= 4 * n) return [...scores.entries()].sort(byScore).slice(0, n);
  const values = new Float64Array(scores.size);
  let i = 0;
  for (const s of scores.values()) values[i++] = s;
  const cut = nthLargest(values, n - 1);
  const kept: [number, number][] = [];
  for (const e of scores) if (e[1] >= cut) kept.push(e);
  return kept.sort(byScore).slice(0, n);
}

/** The value that would stand at `rank` (0 = largest) if `values` were sorted descending; reorders it. */
function nthLargest(values: Float64Array, rank: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    // Median of three as the pivot, then a three-way partition (scores repeat a lot).
    const mid = (lo + hi) >>> 1;
    const a = values[lo], b = values[mid], c = values[hi];
    const pivot = a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
    let lt = lo; // [lo, lt): greater than the pivot
    let gt = hi; // (gt, hi]: less than the pivot
    let at = lo;
    while (at <= gt) {
      const v = values[at];
      if (v > pivot) {
        values[at++] = values[lt];
        values[lt++] = v;
      } else if (v < pivot) {
        values[at] = values[gt];
        values[gt--] = v;
      } else at++;
    }
    if (rank < lt) hi = lt - 1;
    else if (rank > gt) lo = gt + 1;
    else return pivot;
  }
  return values[lo];
}

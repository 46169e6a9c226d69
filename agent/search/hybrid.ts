/**
 * Reciprocal rank fusion: merges ranked lists (BM25 and vector search) by summing `1 / (k + rank)` for each
 * item across lists, so an item ranked well by both wins without calibrating their scores against each
 * other.
 *
 * @module
 */

/** A ranked item with a key that identifies it across lists. */
export interface Ranked<T> {
  key: string;
  item: T;
}

/** A fused item: its RRF score and its rank in each input list (1-based; absent = not ranked there). */
export interface Fused<T> {
  key: string;
  item: T;
  score: number;
  ranks: (number | undefined)[];
}

/**
 * Fuses ranked lists with reciprocal rank fusion (`k` default 60): an item scores
 * `Σ weights[i] / (k + rank in list i)` (weights default to 1). The first list's item wins when a key
 * appears in several lists.
 *
 * @example
 * ```ts
 * reciprocalRankFusion([[{key: "a", item: 1}, {key: "b", item: 2}], [{key: "b", item: 2}]]); // b first
 * ```
 */
export function reciprocalRankFusion<T>(lists: Ranked<T>[][], k = 60, weights?: number[]): Fused<T>[] {
  const fused = new Map<string, Fused<T>>();
  lists.forEach((list, li) => {
    list.forEach((r, rank) => {
      let f = fused.get(r.key);
      if (!f) {
        f = { key: r.key, item: r.item, score: 0, ranks: lists.map(() => undefined) };
        fused.set(r.key, f);
      }
      if (f.ranks[li] === undefined) {
        f.ranks[li] = rank + 1;
        f.score += (weights?.[li] ?? 1) / (k + rank + 1);
      }
    });
  });
  return [...fused.values()].sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1));
}

/** The key chunks share across indexes: `path:start-end`. */
export function chunkKey(c: { path: string; start_line: number; end_line: number }): string {
  return `${c.path}:${c.start_line}-${c.end_line}`;
}

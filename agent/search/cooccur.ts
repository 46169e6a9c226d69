/**
 * Query expansion from the corpus's own vocabulary: a behaviour word of the query ("leads") is expanded with
 * the terms that co-occur with it in the same chunks far more often than chance (`leader`, `partition`),
 * scored by lift, P(t | w) / P(t). Those terms are added to the query at a reduced weight. `rankChunks` uses
 * it for descriptive queries when the `expand` ranking knob is above 0 (default 0: measured on the tune half,
 * see docs/search.md).
 *
 * @module
 */

import { DEF_PREFIX } from "./index_analyze.ts";
import type { StringTable } from "./index_meta.ts";

/** The parts of a loaded index expansion needs. */
export interface CooccurSource {
  meta: {
    terms: Pick<StringTable, "length" | "at">;
    termOffset: ArrayLike<number>;
    chunkLen: ArrayLike<number>;
  };
  ids: Uint32Array;
}

/** Expansion options. */
export interface ExpandOptions {
  /** Terms added per query term (default 3). */
  perTerm?: number;
  /** Minimum chunks shared with the query term (default 3). */
  minShared?: number;
  /** Minimum lift (default 4). */
  minLift?: number;
  /** Query terms found in more than this share of chunks are not expanded (default 0.05). */
  maxDfShare?: number;
  /** Rank candidates by lift × log(shared chunks) instead of by shared chunks (default false). */
  byLift?: boolean;
}

const forwardCache = new WeakMap<object, Uint32Array[]>();

/** Chunk → its term ids (built once per loaded index). */
function forwardIndex(index: CooccurSource): Uint32Array[] {
  let fwd = forwardCache.get(index.meta);
  if (fwd) return fwd;
  const { meta, ids } = index;
  const n = meta.chunkLen.length;
  const counts = new Uint32Array(n);
  for (let p = 0; p < ids.length; p++) counts[ids[p]]++;
  fwd = Array.from({ length: n }, (_, c) => new Uint32Array(counts[c]));
  const fill = new Uint32Array(n);
  for (let t = 0; t < meta.terms.length; t++) {
    for (let p = meta.termOffset[t]; p < meta.termOffset[t + 1]; p++) {
      const c = ids[p];
      fwd[c][fill[c]++] = t;
    }
  }
  forwardCache.set(index.meta, fwd);
  return fwd;
}

/**
 * The expansion terms for a query's term ids: for each query term rare enough to be a content word, the
 * terms with the highest lift among those sharing at least `minShared` chunks with it. Never returns a
 * query term, a declaration term or a term that occurs in a single chunk.
 */
export function expansionTerms(
  index: CooccurSource,
  queryTermIds: number[],
  options: ExpandOptions = {},
): number[] {
  const { meta } = index;
  const n = meta.chunkLen.length;
  const perTerm = options.perTerm ?? 3;
  const minShared = options.minShared ?? 3;
  const minLift = options.minLift ?? 4;
  const maxDf = (options.maxDfShare ?? 0.05) * n;
  const fwd = forwardIndex(index);
  const inQuery = new Set(queryTermIds);
  const out = new Set<number>();
  for (const q of queryTermIds) {
    const dfq = meta.termOffset[q + 1] - meta.termOffset[q];
    if (dfq < minShared || dfq > maxDf) continue;
    const shared = new Map<number, number>();
    for (let p = meta.termOffset[q]; p < meta.termOffset[q + 1]; p++) {
      for (const t of fwd[index.ids[p]]) shared.set(t, (shared.get(t) ?? 0) + 1);
    }
    const scored: [number, number][] = [];
    for (const [t, co] of shared) {
      if (co < minShared || inQuery.has(t) || meta.terms.at(t).startsWith(DEF_PREFIX)) continue;
      const dft = meta.termOffset[t + 1] - meta.termOffset[t];
      const lift = (co / dfq) / (dft / n);
      if (lift >= minLift) scored.push([t, options.byLift ? lift * Math.log(co) : co]);
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (const [t] of scored.slice(0, perTerm)) out.add(t);
  }
  return [...out];
}

/**
 * A structural prior for esearch: a PageRank over the file reference graph, in the spirit of aider's
 * repository map. Each file that uses a name declared in another file (the index's `§name` declaration terms
 * against the plain identifier terms of every chunk) links to that file; PageRank over those links gives
 * each file a centrality in [0, 1] (scaled so the most central file has 1). `rankChunks` multiplies a chunk's
 * score by `1 + graph · centrality` when the `graph` ranking knob is above 0 (default 0: measured on the tune
 * half, see docs/search.md).
 *
 * @module
 */

import { DEF_PREFIX } from "./index_analyze.ts";
import type { StringTable } from "./index_meta.ts";
import { stem } from "./tokenize.ts";

/** The parts of a loaded index the graph needs. */
export interface GraphSource {
  meta: {
    paths: { length: number };
    chunkPath: ArrayLike<number>;
    terms: Pick<StringTable, "all" | "find">;
    termOffset: ArrayLike<number>;
  };
  ids: Uint32Array;
}

/** PageRank options. */
export interface PageRankOptions {
  /** Damping factor (default 0.85). */
  damping?: number;
  /** Iterations (default 30). */
  iterations?: number;
}

/**
 * The weighted file graph: `edges[from]` maps a target file to the number of chunks of `from` that use a
 * name the target declares (a name declared in many files spreads its weight over them).
 */
export function referenceGraph(index: GraphSource): Map<number, number>[] {
  const { meta, ids } = index;
  const edges = Array.from({ length: meta.paths.length }, () => new Map<number, number>());
  const terms = meta.terms.all();
  for (let t = 0; t < terms.length; t++) {
    const term = terms[t];
    if (!term.startsWith(DEF_PREFIX)) continue;
    const name = term.slice(DEF_PREFIX.length);
    if (name.length < 3) continue;
    const declaring = new Set<number>();
    for (let p = meta.termOffset[t]; p < meta.termOffset[t + 1]; p++) declaring.add(meta.chunkPath[ids[p]]);
    // Single-part names are indexed stemmed; multi-part ones also as the whole lower-cased name.
    const uses = new Set<number>();
    for (const form of new Set([name, stem(name)])) {
      const u = meta.terms.find(form);
      if (u < 0) continue;
      for (let p = meta.termOffset[u]; p < meta.termOffset[u + 1]; p++) uses.add(meta.chunkPath[ids[p]]);
    }
    const share = 1 / declaring.size;
    for (const from of uses) {
      for (const to of declaring) {
        if (to !== from) edges[from].set(to, (edges[from].get(to) ?? 0) + share);
      }
    }
  }
  return edges;
}

/** PageRank over a weighted graph given as adjacency maps; returns scores scaled so the maximum is 1. */
export function pageRank(edges: Map<number, number>[], options: PageRankOptions = {}): Float64Array {
  const n = edges.length;
  const d = options.damping ?? 0.85;
  const iterations = options.iterations ?? 30;
  let rank = new Float64Array(n).fill(n ? 1 / n : 0);
  const outWeight = edges.map((m) => [...m.values()].reduce((a, b) => a + b, 0));
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(n);
    let dangling = 0;
    for (let i = 0; i < n; i++) {
      if (outWeight[i] === 0) {
        dangling += rank[i];
        continue;
      }
      for (const [j, w] of edges[i]) next[j] += d * rank[i] * (w / outWeight[i]);
    }
    const base = (1 - d) / n + (d * dangling) / n;
    for (let i = 0; i < n; i++) next[i] += base;
    rank = next;
  }
  let max = 0;
  for (const r of rank) if (r > max) max = r;
  if (max > 0) { for (let i = 0; i < n; i++) rank[i] /= max; }
  return rank;
}

const cache = new WeakMap<object, Float64Array>();

/** Each file's centrality in the reference graph (cached per loaded index). */
export function fileCentrality(index: GraphSource): Float64Array {
  let c = cache.get(index.meta);
  if (!c) {
    c = pageRank(referenceGraph(index));
    cache.set(index.meta, c);
  }
  return c;
}

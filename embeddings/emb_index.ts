/**
 * Building and searching the embedding index. It embeds the same chunks as the lexical index (same walk,
 * same chunker), incrementally: files whose size and mtime are unchanged keep their vectors when the
 * backend, model and dimension are the same. Search embeds the query with the index's own backend and
 * ranks chunks by cosine similarity. `hybridSearch` fuses BM25 and vector ranks with reciprocal rank fusion.
 *
 * @module
 */

import {
  ANALYZER_VERSION,
  chunkFile,
  chunkKey,
  DEFAULT_CHUNK_LINES,
  INDEX_EXCLUDES,
  isIdentifierQuery,
  type RankedChunk,
  rankInWorkspace,
  readTextIfText,
  reciprocalRankFusion,
  sameFiles,
  sameStamp,
  type SearchHit,
  snippetFor,
  someOf,
  stampOf,
  walkFiles,
  walkFilesYielding,
  type WalkOptions,
} from "../agent/search/mod.ts";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import type { Embedder, EmbedderBackend } from "./embedder.ts";
import { createHashEmbedder } from "./hash_embedder.ts";
import { createInferMeshEmbedder } from "./infermesh_client.ts";
import { createLocalEmbedder } from "./local_embedder.ts";
import { createUseEmbedder, USE_LITE_MODEL, useTextModeOf } from "./use_embedder.ts";
import {
  exportJsonl,
  loadVectorIndex,
  loadVectorIndexForSearch,
  saveVectorIndex,
  type VectorChunk,
  type VectorFileEntry,
  type VectorIndex,
  type VectorMeta,
} from "./vector_store.ts";

/** Options for {@link createEmbedder}. */
export interface CreateEmbedderOptions {
  backend: EmbedderBackend;
  /** Model id (local, infermesh; `use` takes only `universal-sentence-encoder-lite`). */
  model?: string;
  /** Local model folder (local; for `use`, a folder with its model.json, shards and vocab.json). */
  modelPath?: string;
  /** InferMesh base URL. */
  url?: string;
  /** Hash embedder dimension. */
  dim?: number;
  /** Texts per request (infermesh) or per graph run (use). */
  batchSize?: number;
}

/** Creates an embedder for a backend. */
export async function createEmbedder(options: CreateEmbedderOptions): Promise<Embedder> {
  switch (options.backend) {
    case "hash":
      return createHashEmbedder({ dim: options.dim });
    case "infermesh":
      return createInferMeshEmbedder({
        url: options.url,
        model: options.model,
        batchSize: options.batchSize,
      });
    case "local":
      return await createLocalEmbedder({ model: options.model, modelPath: options.modelPath });
    case "use": {
      const textMode = options.model ? useTextModeOf(options.model) : "digest";
      if (!textMode) {
        throw new UserError(
          `the use backend runs one model, ${USE_LITE_MODEL}, not '${options.model}': drop --model, ` +
            `or use --backend local for an ONNX model`,
        );
      }
      return await createUseEmbedder({
        modelPath: options.modelPath,
        batchSize: options.batchSize,
        textMode,
      });
    }
    default:
      throw new UserError(
        `unknown embedding backend '${options.backend}': use local, use, infermesh or hash`,
      );
  }
}

/** Options for {@link buildEmbeddingIndex}. */
export interface BuildEmbeddingOptions {
  globs?: string[];
  excludes?: string[];
  chunkLines?: number;
  maxFileBytes?: number;
  /** Re-embed everything. */
  full?: boolean;
  /** The index as a search just loaded it, so the build need not read it again. */
  previous?: VectorIndex;
  /**
   * Bring the index up to date within the scope and chunk size it was built with, where these options do not
   * say otherwise (as a search refreshing it does).
   */
  keepScope?: boolean;
  /** Also write the old `emb_index.jsonl`. */
  jsonl?: boolean;
  /** Model folder to record for later searches (local backend). */
  modelPath?: string;
  /** InferMesh URL to record for later searches. */
  url?: string;
  /** Chunks per embed call (default 256). */
  embedBatch?: number;
  /** Progress over chunks to embed. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Summary of an embedding build. */
export interface BuildEmbeddingResult {
  files: number;
  chunks: number;
  embedded: number;
  reused: number;
  dim: number;
  backend: EmbedderBackend;
  model: string;
  seconds: number;
  /** False when no file changed and the index was left as it was (not written). */
  changed: boolean;
  jsonl?: string;
}

/** The text a chunk is embedded as: its path and symbol give the model context. */
function chunkText(path: string, symbol: string | undefined, text: string): string {
  return `${path}${symbol ? ` ${symbol}` : ""}\n${text}`;
}

/**
 * Builds or refreshes the workspace's embedding index with `embedder`.
 *
 * @example
 * ```ts
 * const r = await buildEmbeddingIndex(root, createHashEmbedder());
 * ```
 */
export async function buildEmbeddingIndex(
  root: string,
  embedder: Embedder,
  options: BuildEmbeddingOptions = {},
): Promise<BuildEmbeddingResult> {
  const started = performance.now();
  const prev = options.full && !options.keepScope
    ? null
    : options.previous ?? await loadVectorIndex(root, { damaged: "null" });
  const kept = options.keepScope ? prev?.meta : undefined;
  const chunkLines = options.chunkLines ?? kept?.chunkLines ?? DEFAULT_CHUNK_LINES;
  const scope = {
    globs: options.globs ?? kept?.scope?.globs,
    excludes: options.excludes ?? kept?.scope?.excludes,
    maxFileBytes: options.maxFileBytes ?? kept?.scope?.maxFileBytes,
  };
  const walked = await walkFiles(root, { ...scopeWalk(scope), signal: options.signal });
  const compatible = !options.full && prev && prev.meta.backend === embedder.backend &&
    prev.meta.model === embedder.model && prev.meta.chunkLines === chunkLines &&
    prev.meta.analyzer === ANALYZER_VERSION && (embedder.dim === undefined || embedder.dim === prev.meta.dim);
  if (
    compatible && !options.jsonl && JSON.stringify(prev.meta.scope) === JSON.stringify(scope) &&
    sameFiles(prev.meta.files, walked)
  ) {
    // Nothing changed (same files, sizes and mtimes, same scope): the index stays as it is, unwritten.
    return {
      files: Object.values(prev.meta.files).filter((e) => e.count > 0).length,
      chunks: prev.meta.chunks.length,
      embedded: 0,
      reused: prev.meta.chunks.length,
      dim: prev.meta.dim,
      backend: embedder.backend,
      model: embedder.model,
      seconds: (performance.now() - started) / 1000,
      changed: false,
    };
  }

  // Plan: reused chunks keep their vectors; new chunks are collected for embedding.
  type Slot = { chunk: VectorChunk; reuse?: number; text?: string };
  const slots: Slot[] = [];
  const files: Record<string, VectorFileEntry> = {};
  for (const f of walked) {
    const old = compatible ? prev!.meta.files[f.rel] : undefined;
    const first = slots.length;
    if (sameStamp(old, f)) {
      for (let c = old.first; c < old.first + old.count; c++) {
        slots.push({ chunk: prev!.meta.chunks[c], reuse: c });
      }
    } else {
      const text = await readTextIfText(f.abs, options.maxFileBytes);
      for (const ch of text === null ? [] : chunkFile(f.rel, text, { chunkLines })) {
        slots.push({
          chunk: {
            path: f.rel,
            start_line: ch.startLine,
            end_line: ch.endLine,
            ...(ch.symbol ? { symbol: ch.symbol } : {}),
          },
          text: chunkText(f.rel, ch.symbol, ch.text),
        });
      }
    }
    files[f.rel] = { size: f.size, mtimeMs: f.mtimeMs, first, count: slots.length - first };
  }

  const todo = slots.filter((s) => s.text !== undefined);
  const fresh = new Map<Slot, Float32Array>();
  const step = Math.max(1, options.embedBatch ?? 256);
  options.onProgress?.(0, todo.length);
  for (let i = 0; i < todo.length; i += step) {
    if (options.signal?.aborted) throw new UserError("emb-index: cancelled");
    const part = todo.slice(i, i + step);
    const vecs = await embedder.embed(part.map((s) => s.text!), { kind: "code", signal: options.signal });
    if (vecs.length !== part.length) {
      throw new Error(`embedder returned ${vecs.length} vectors for ${part.length} texts`);
    }
    part.forEach((s, j) => fresh.set(s, vecs[j]));
    options.onProgress?.(Math.min(todo.length, i + step), todo.length);
  }
  const dim = fresh.size > 0
    ? fresh.values().next().value!.length
    : (compatible ? prev!.meta.dim : embedder.dim ?? 0);
  const vectors = new Float32Array(slots.length * dim);
  slots.forEach((s, i) => {
    const v = s.reuse !== undefined
      ? prev!.vectors.subarray(s.reuse * dim, (s.reuse + 1) * dim)
      : fresh.get(s)!;
    if (v.length !== dim) {
      throw new Error(`embedder returned a ${v.length}-dimensional vector, expected ${dim}`);
    }
    vectors.set(v, i * dim);
  });
  const meta: VectorMeta = {
    version: 1,
    backend: embedder.backend,
    model: embedder.model,
    ...(options.modelPath ? { modelPath: options.modelPath } : {}),
    ...(options.url ? { url: options.url } : {}),
    dim,
    lexical: embedder.lexical,
    chunkLines,
    analyzer: ANALYZER_VERSION,
    createdAt: new Date().toISOString(),
    scope,
    files,
    chunks: slots.map((s) => s.chunk),
  };
  const index: VectorIndex = { meta, vectors };
  await saveVectorIndex(root, index);
  const jsonl = options.jsonl ? await exportJsonl(root, index) : undefined;
  return {
    files: Object.values(files).filter((e) => e.count > 0).length,
    chunks: slots.length,
    embedded: todo.length,
    reused: slots.length - todo.length,
    dim,
    backend: embedder.backend,
    model: embedder.model,
    seconds: (performance.now() - started) / 1000,
    changed: true,
    ...(jsonl ? { jsonl } : {}),
  };
}

/** The walk of the files an index of `scope` covers (as the lexical index walks them). */
function scopeWalk(scope: NonNullable<VectorMeta["scope"]>): WalkOptions {
  return {
    globs: scope.globs,
    excludes: [...INDEX_EXCLUDES, ...(scope.excludes ?? [])],
    maxFileBytes: scope.maxFileBytes,
  };
}

/**
 * True when no file the index's scope selects changed, came or went since it was built (a walk, no
 * embedding); false for an index built before scopes were recorded. The session's pre-warm asks, so that its
 * first vector search need not.
 */
export async function vectorsCurrent(root: string, index: VectorIndex): Promise<boolean> {
  const scope = index.meta.scope;
  if (!scope) return false;
  // Run in the background of a session: a walk that lets input through now and then.
  const walked = await walkFilesYielding(root, scopeWalk(scope));
  return sameFiles(index.meta.files, walked);
}

/** A vector hit before snippets: the same shape as a lexical hit, so the two can be fused. */
export type VectorRanked = RankedChunk;

/** Ranks the index's chunks by cosine similarity to `query` (vectors are unit length). */
export function rankByVector(index: VectorIndex, query: Float32Array, k: number): VectorRanked[] {
  const { meta, vectors } = index;
  const dim = meta.dim;
  if (query.length !== dim) {
    throw new UserError(
      `emb-search: the query vector has ${query.length} dimensions but the index has ${dim}: ` +
        `search with the model the index was built with, or rebuild it with 'emb-index --full'`,
    );
  }
  let qn = 0;
  for (let j = 0; j < dim; j++) qn += query[j] * query[j];
  qn = Math.sqrt(qn) || 1;
  const scores: [number, number][] = [];
  for (let c = 0; c < meta.chunks.length; c++) {
    let dot = 0;
    let vn = 0;
    const off = c * dim;
    for (let j = 0; j < dim; j++) {
      const x = vectors[off + j];
      dot += x * query[j];
      vn += x * x;
    }
    const s = vn === 0 ? 0 : dot / (qn * Math.sqrt(vn));
    if (s > 0) scores.push([c, s]);
  }
  scores.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return scores.slice(0, k).map(([c, s]) => ({
    chunk: c,
    ...meta.chunks[c],
    score: Math.round(s * 10000) / 10000,
  }));
}

/** Creates the embedder an index was built with (overridable, e.g. a different model folder). */
export function embedderForIndex(
  meta: VectorMeta,
  overrides: Partial<CreateEmbedderOptions> = {},
): Promise<Embedder> {
  return createEmbedder({
    backend: meta.backend,
    model: meta.model,
    modelPath: meta.modelPath,
    url: meta.url,
    dim: meta.backend === "hash" ? meta.dim : undefined,
    ...overrides,
  });
}

/** Asking a search to bring the embedding index up to date first. */
export interface VectorRefreshOptions {
  /**
   * First re-embed the files changed since the embedding index was built (within the scope it was built
   * with, by its own model), when its vectors are to be used: the session does after it saw files change.
   * Without it, vectors of changed files are left out and named in the note. A function is asked only when
   * the vectors are about to be used (an identifier lookup in `hybridSearch` does not use them), so a flag it
   * hands over is not spent on a search that had no use for it.
   */
  refreshVectors?: boolean | (() => boolean);
  /** Told when a refresh that was asked for failed (Ctrl-C, the model gone), so it can be asked for again. */
  onRefreshFailed?: () => void;
  /** Progress over the chunks a refresh re-embeds. */
  onEmbedProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * When `options` ask for it: the embedding index with the files changed since it was built embedded again by
 * `embedder` (only those), within the scope it was built with. An index built before scopes were recorded is left as it is (it might
 * have been built with --glob), as is one whose model is not the embedder's (it would be embedded again
 * whole, inside a search).
 */
async function refreshedVectors(
  root: string,
  index: VectorIndex,
  embedder: Embedder,
  options: VectorRefreshOptions,
): Promise<VectorIndex> {
  const asked = typeof options.refreshVectors === "function"
    ? options.refreshVectors()
    : options.refreshVectors;
  const sameModel = embedder.backend === index.meta.backend && embedder.model === index.meta.model;
  if (!asked || !index.meta.scope || !sameModel) return index;
  try {
    const r = await buildEmbeddingIndex(root, embedder, {
      previous: index,
      keepScope: true,
      modelPath: index.meta.modelPath,
      url: index.meta.url,
      onProgress: options.onEmbedProgress,
      signal: options.signal,
    });
    return r.changed ? (await loadVectorIndexForSearch(root))! : index;
  } catch (err) {
    options.onRefreshFailed?.();
    throw err;
  }
}

/** Options for {@link searchEmbeddings}. */
export interface EmbeddingSearchOptions extends VectorRefreshOptions {
  k?: number;
  /** Snippet context lines (default 4). */
  context?: number;
  /** Use this embedder instead of re-creating the index's own. */
  embedder?: Embedder;
  /** Overrides for re-creating the embedder (e.g. `modelPath`, `url`). */
  overrides?: Partial<CreateEmbedderOptions>;
}

/**
 * Vector hits whose file still has the size and modification time it had when `emb-index` embedded it. A
 * file edited since has other lines under the same line numbers (and a deleted one none), so its vectors
 * would point at text they were not made from; those hits are left out and their files named in `changed`.
 */
async function currentVectorHits(
  root: string,
  meta: VectorMeta,
  hits: VectorRanked[],
): Promise<{ hits: VectorRanked[]; changed: string[] }> {
  const paths = [...new Set(hits.map((h) => h.path))];
  const stale = new Set<string>();
  await Promise.all(paths.map(async (path) => {
    try {
      if (!sameStamp(meta.files[path], stampOf(await Deno.stat(join(root, path))))) stale.add(path);
    } catch {
      stale.add(path); // deleted or unreadable
    }
  }));
  return { hits: hits.filter((h) => !stale.has(h.path)), changed: paths.filter((p) => stale.has(p)) };
}

/** The note for vector hits left out because their files changed since `emb-index`. */
function changedNote(changed: string[]): string {
  return `${
    someOf(changed)
  } changed since 'emb-index' ran: their vectors are left out (run 'emb-index' to embed them ` +
    `again; it re-embeds only changed files)`;
}

/** Searches the embedding index. Throws a clear error when there is none. */
export async function searchEmbeddings(
  root: string,
  query: string,
  options: EmbeddingSearchOptions = {},
): Promise<{ hits: SearchHit[]; meta: VectorMeta; note?: string }> {
  if (query.trim() === "") {
    throw new UserError("emb-search: the query is empty: say what you are looking for");
  }
  let index = await loadVectorIndexForSearch(root);
  if (!index) throw new UserError("No embedding index found. Run 'emb-index' first.");
  const embedder = options.embedder ?? await embedderForIndex(index.meta, options.overrides);
  try {
    index = await refreshedVectors(root, index, embedder, options);
    const [q] = await embedder.embed([query], { kind: "query" });
    // Deeper than k, so hits of changed files left out still leave k.
    const k = options.k ?? 5;
    const current = await currentVectorHits(root, index.meta, rankByVector(index, q, k * 4 + 20));
    const ranked = current.hits.slice(0, k);
    const context = options.context ?? 4;
    const hits = await Promise.all(ranked.map(async (r) => ({
      path: r.path,
      start_line: r.start_line,
      end_line: r.end_line,
      score: r.score,
      ...(r.symbol ? { symbol: r.symbol } : {}),
      snippet: await snippetFor(root, r, query, context),
    })));
    return {
      hits,
      meta: index.meta,
      ...(current.changed.length ? { note: changedNote(current.changed) } : {}),
    };
  } finally {
    if (!options.embedder) await embedder.dispose();
  }
}

/**
 * Weight of the vector list in hybrid fusion, by the embedder that built the index (the lexical list
 * weighs 1). Measured on the tune half of the search quality bench (docs/search.md): the hash embedder only
 * re-counts the words BM25F already scores; the Universal Sentence Encoder Lite, a general-purpose sentence
 * model that has not seen code, ranks code well below BM25F on its own. Since lexical ranking has term
 * proximity, any weight above 0.01 (where a vector vote only breaks ties) made hybrid worse than lexical
 * alone with either. `local` and `infermesh` models could not be measured here (no model can be
 * downloaded), so they keep an equal vote.
 */
export const HYBRID_VECTOR_WEIGHT: Record<EmbedderBackend, number> = {
  hash: 0.01,
  use: 0.01,
  local: 1,
  infermesh: 1,
};

/** Options for {@link hybridSearch}. */
export interface HybridOptions extends VectorRefreshOptions {
  /** Weight of the vector list against the lexical list's 1 (default: {@link HYBRID_VECTOR_WEIGHT}). */
  vectorWeight?: number;
  /**
   * Weight of the vector list for an identifier lookup (a query that is one name written like code, see
   * `isIdentifierQuery`); default 0: exact names are the lexical ranking's job (its declaration boost), and a
   * sentence model reads `RequestQueue` as "request queue" and votes for chunks about queues (with the
   * Universal Sentence Encoder at weight 1, identifier MRR@10 fell from 0.985 to 0.855 on the tune half).
   */
  identifierVectorWeight?: number;
  k?: number;
  context?: number;
  /** How deep each list goes before fusion (default 50). */
  depth?: number;
  /** RRF constant (default 60). */
  rrfK?: number;
  embedder?: Embedder;
  overrides?: Partial<CreateEmbedderOptions>;
}

/** Result of {@link hybridSearch}: `fused` is false when no embedding index was available. */
export interface HybridResult {
  hits: SearchHit[];
  fused: boolean;
  note?: string;
}

/**
 * BM25 and vector search fused with reciprocal rank fusion. Falls back to BM25 alone (with a note) when
 * there is no embedding index, its embedder cannot run, or the query is an identifier lookup (whose vector
 * weight is 0 by default: the embedder is then not even loaded).
 */
export async function hybridSearch(
  root: string,
  query: string,
  options: HybridOptions = {},
): Promise<HybridResult> {
  if (query.trim() === "") throw new UserError("esearch: the query is empty: say what you are looking for");
  const k = options.k ?? 5;
  const depth = Math.max(k, options.depth ?? 50);
  const lexical = await rankInWorkspace(root, query, depth);
  let vindex = await loadVectorIndexForSearch(root);
  let vector: VectorRanked[] = [];
  let note: string | undefined;
  const weight = isIdentifierQuery(query)
    ? options.identifierVectorWeight ?? 0
    : options.vectorWeight ?? (vindex ? HYBRID_VECTOR_WEIGHT[vindex.meta.backend] ?? 1 : 1);
  if (!vindex) {
    note = "no embedding index: showing BM25 results only (run 'emb-index' to enable --hybrid)";
  } else if (weight <= 0) {
    note = `'${query.trim()}' is an identifier lookup: ranked by BM25F alone (exact names are lexical)`;
  } else {
    let embedder: Embedder | undefined;
    try {
      embedder = options.embedder ?? await embedderForIndex(vindex.meta, options.overrides);
      vindex = await refreshedVectors(root, vindex, embedder, options);
      const [q] = await embedder.embed([query], { kind: "query" });
      const current = await currentVectorHits(root, vindex.meta, rankByVector(vindex, q, depth));
      vector = current.hits;
      if (current.changed.length) note = changedNote(current.changed);
    } catch (err) {
      if (options.signal?.aborted) throw err; // Ctrl-C during a refresh: stop, as the lexical refresh does
      note = `embedding search unavailable (${err instanceof Error ? err.message : err}): showing BM25 only`;
    } finally {
      if (embedder && !options.embedder) await embedder.dispose();
    }
  }
  const fused = reciprocalRankFusion(
    [
      lexical.map((h) => ({ key: chunkKey(h), item: h })),
      vector.map((h) => ({ key: chunkKey(h), item: h })),
    ],
    options.rrfK ?? 60,
    [1, weight],
  ).slice(0, k);
  const context = options.context ?? 4;
  const hits = await Promise.all(fused.map(async (f) => ({
    path: f.item.path,
    start_line: f.item.start_line,
    end_line: f.item.end_line,
    score: Math.round(f.score * 1e5) / 1e5,
    ...(f.item.symbol ? { symbol: f.item.symbol } : {}),
    snippet: await snippetFor(root, f.item, query, context),
  })));
  return { hits, fused: vector.length > 0, ...(note ? { note } : {}) };
}

/**
 * Embeddings: the {@link Embedder} interface and its backends (local ONNX via transformers.js, the Universal
 * Sentence Encoder Lite on TensorFlow.js with our SentencePiece tokenizer, the InferMesh HTTP client, the
 * lexical hashing embedder), the compact vector store, the incremental embedding index,
 * cosine search and hybrid (BM25 + vector) search. Heavy libraries load only when the local or use backend runs.
 *
 * @example
 * ```ts
 * import { buildEmbeddingIndex, createHashEmbedder, searchEmbeddings } from "../embeddings/mod.ts";
 * await buildEmbeddingIndex(root, createHashEmbedder());
 * const { hits } = await searchEmbeddings(root, "retry with backoff", { k: 5 });
 * ```
 *
 * @module
 */

export {
  cosine,
  type Embedder,
  type EmbedderBackend,
  type EmbedKind,
  type EmbedOptions,
  normalize,
} from "./embedder.ts";
export { createHashEmbedder, fnv1a, type HashEmbedderOptions } from "./hash_embedder.ts";
export {
  createInferMeshEmbedder,
  DEFAULT_INFERMESH_MODEL,
  InferMeshError,
  type InferMeshOptions,
} from "./infermesh_client.ts";
export {
  createUseEmbedder,
  resolveUseModel,
  sparseBatch,
  toDigest,
  toWords,
  USE_LITE_DIM,
  USE_LITE_MAX_PIECES,
  USE_LITE_MODEL,
  USE_LITE_PACKAGE,
  type UseEmbedderOptions,
  useModelName,
  type UseTextMode,
  useTextModeOf,
} from "./use_embedder.ts";
export {
  createSentencePiece,
  normalizeForPieces,
  repairScores,
  type SentencePiece,
  type SentencePieceOptions,
  type VocabEntry,
  VocabularyError,
} from "./sentencepiece.ts";
export {
  createLocalEmbedder,
  DEFAULT_LOCAL_MODEL,
  type LocalEmbedder,
  type LocalEmbedderOptions,
  MODEL_THREAD_BY_DEFAULT,
  resolveLocalModel,
  servedModelSpins,
} from "./local_embedder.ts";
export {
  exportJsonl,
  loadVectorIndex,
  loadVectorIndexForSearch,
  saveVectorIndex,
  type VectorChunk,
  vectorFiles,
  type VectorIndex,
  type VectorMeta,
} from "./vector_store.ts";
export {
  buildEmbeddingIndex,
  type BuildEmbeddingOptions,
  type BuildEmbeddingResult,
  createEmbedder,
  type CreateEmbedderOptions,
  embedderForIndex,
  type EmbeddingSearchOptions,
  HYBRID_VECTOR_WEIGHT,
  type HybridOptions,
  type HybridResult,
  hybridSearch,
  rankByVector,
  searchEmbeddings,
  type VectorRanked,
  type VectorRefreshOptions,
  vectorsCurrent,
} from "./emb_index.ts";
export { type Batcher, type BatcherOptions, createBatcher, QueueFullError } from "./batcher.ts";
export {
  hashDim,
  type LoadModelsOptions,
  loadServedModels,
  type ModelSpec,
  parseModelSpec,
  type ServedModel,
} from "./served_models.ts";
export { type EmbedServer, type EmbedServerOptions, startEmbedServer } from "./embed_server.ts";
export { EmbedServerMetrics } from "./server_metrics.ts";
export {
  checkStoreModel,
  compactStore,
  knn,
  type KnnHit,
  type LoadedStore,
  loadStore,
  openStoreWriter,
  storeDir,
  type StoredRecord,
  type StoreHeader,
  storeHeader,
  StoreMismatchError,
  type StoreRecordInput,
  type StoreStats,
  storeStats,
  type StoreWriter,
  type StoreWriterOptions,
} from "./store.ts";
export { embedderForStore, searchStore, type StoreSearchOptions } from "./store_search.ts";
export { type InputRecord, type OutputRecord, parseInputRecord, sha256Hex } from "./records.ts";
export { VectorCache } from "./lru_cache.ts";
export { EMBED_DEFAULTS, type EmbedWorkerOptions, type EmbedWorkerResult, runEmbedWorker } from "./worker.ts";
export { type EmbedWorkerMetrics, readWorkerMetrics, workerMetricsDir } from "./worker_metrics.ts";
export { type IngestOptions, ingestPath, type IngestResult } from "./ingest.ts";

/**
 * Code search: the shared file walk, parallel grep, symbol extraction, extract/diff/write, the chunker, the
 * BM25F lexical index (`index`/`esearch`), reciprocal rank fusion and the retrieval event log. Other folders
 * import only this module.
 *
 * @example
 * ```ts
 * import { grepWorkspace, searchIndex, extractSegment } from "../agent/search/mod.ts";
 * const { matches } = await grepWorkspace(root, "TODO", { globs: ["*.ts"] });
 * const hits = await searchIndex(root, "retry with backoff", { k: 5 });
 * const seg = await extractSegment(root, "src/app.ts", { symbol: "main" });
 * ```
 *
 * @module
 */

export {
  DEFAULT_EXCLUDES,
  DEFAULT_MAX_FILE_BYTES,
  type FileStamp,
  globMatcher,
  isBinary,
  iterateFiles,
  iterateFilesSync,
  readTextIfText,
  relPath,
  sameFiles,
  sameStamp,
  someOf,
  stampOf,
  type WalkedFile,
  walkFiles,
  walkFilesYielding,
  type WalkOptions,
} from "./walk.ts";
export { createGitignore, type Gitignore, type GitignoreOptions, type IgnoreVerdict } from "./gitignore.ts";
export { compilePattern, type GrepMatch, searchText } from "./grep_core.ts";
export { type GrepOptions, type GrepResult, grepWorkspace } from "./grep.ts";
export {
  type CodeSymbol,
  extractSymbols,
  findSymbol,
  type Language,
  languageOf,
  maskCode,
  type SymbolKind,
} from "./symbols.ts";
export {
  diffFileAgainst,
  type Extract,
  type ExtractOptions,
  extractSegment,
  LAST_EXTRACT_KEY,
  writeInside,
} from "./extract.ts";
export { type Chunk, chunkFile, type ChunkOptions, DEFAULT_CHUNK_LINES } from "./chunker.ts";
export { codeTokens, pathTokens, splitIdentifier, stem } from "./tokenize.ts";
export {
  ANALYZER_VERSION,
  type Bm25Params,
  buildIndex,
  type BuildIndexOptions,
  type BuildIndexResult,
  changedSinceIndexed,
  DEFAULT_BM25,
  hasFormat1Index,
  hasIndex,
  INDEX_EXCLUDES,
  indexFiles,
  type LexicalIndex,
  loadIndex,
  loadIndexForSearch,
  queryTokens,
  rankChunks,
  type RankedChunk,
  rankInWorkspace,
  type SearchHit,
  searchIndex,
  type SearchOptions,
  snippetFor,
  type WorkspaceRankOptions,
} from "./lexical_index.ts";
export {
  baseName,
  DEFAULT_RANKING,
  type FileKind,
  fileKind,
  isIdentifierQuery,
  type RankingParams,
} from "./ranking.ts";
export {
  fileCentrality,
  type GraphSource,
  pageRank,
  type PageRankOptions,
  referenceGraph,
} from "./graph_prior.ts";
export { type CooccurSource, type ExpandOptions, expansionTerms } from "./cooccur.ts";
export { synonymTerms } from "./code_thesaurus.ts";
export { chunkKey, type Fused, type Ranked, reciprocalRankFusion } from "./hybrid.ts";
export {
  logRetrieval,
  readRetrievalLog,
  type RetrievalEvent,
  type RetrievalHit,
  retrievalLogPath,
} from "./retrieval_log.ts";

/** Alias kept for callers that think of esearch: same as {@link searchIndex}. */
export { searchIndex as esearch } from "./lexical_index.ts";
export { IndexWatch } from "./index_watch.ts";
export { relatedQuery, relatedTerms, type RelatedWord } from "./related_terms.ts";
export {
  checksum,
  FilesMismatch,
  IndexDamagedError,
  integrityNotice,
  integrityProblem,
  type IntegrityStamp,
  integrityStamp,
  loadPastBuild,
} from "./index_integrity.ts";

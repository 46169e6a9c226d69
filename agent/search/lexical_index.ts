/**
 * The lexical index behind `index`/`esearch`: chunks (see chunker.ts) scored with BM25F — one BM25 over a
 * chunk's body tokens plus its path and symbol-name tokens with extra weight. Stored compactly under
 * `.dspy_index/` as `lexical.meta.bin` (chunks, paths, sorted vocabulary: index_meta.ts),
 * `lexical.postings.bin` (chunk ids and weighted term frequencies) and `lexical.files.json` (each file's
 * size, mtime and chunks, read by builds only). Rebuilding is incremental: a file whose size and mtime are
 * unchanged keeps its chunks and terms from the previous index without being read again.
 *
 * @module
 */

import { join } from "../../core/path.ts";
import { atomicWriteFile } from "../../core/atomic.ts";
import { readWholeFile, readWholeTextFile } from "../../core/read_whole.ts";
import { LoadedWhileUnchanged } from "../../core/loaded_cache.ts";
import { UserError } from "../../core/errors.ts";
import { workspacePaths } from "../../core/workspace.ts";
import { DEFAULT_CHUNK_LINES } from "./chunker.ts";
import { fileCentrality } from "./graph_prior.ts";
import { expansionTerms } from "./cooccur.ts";
import { type AnalyzedChunk, analyzeFileSync, DEF_PREFIX } from "./index_analyze.ts";
import { blockChecksums, FilesMismatch, integrityNotice, loadPastBuild } from "./index_integrity.ts";
import {
  identityOf,
  lazyPostings,
  POSTINGS_BLOCK,
  type PostingsSource,
  PostingsUnreadableError,
  type TermPostings,
  wholePostings,
} from "./postings.ts";
import { type Bm25Params, decodeMeta, encodeMeta, type LoadedMeta, MetaFormatError } from "./index_meta.ts";
import {
  baseName,
  DEFAULT_RANKING,
  type FileKind,
  fileKind,
  isIdentifierQuery,
  type RankingParams,
} from "./ranking.ts";
import { codeTokens, splitIdentifier, stem } from "./tokenize.ts";
import { byScore, topEntries } from "./top_n.ts";
import {
  DEFAULT_MAX_FILE_BYTES,
  type FileStamp,
  sameFiles,
  sameStamp,
  stampOf,
  walkFiles,
  walkFilesYielding,
} from "./walk.ts";
import { synonymTerms } from "./code_thesaurus.ts";

/** Files never indexed: lock files, minified bundles, source maps. */
export const INDEX_EXCLUDES: readonly string[] = [
  "*.lock",
  "package-lock.json",
  "*.min.js",
  "*.min.css",
  "*.map",
  "*.svg",
];

const FORMAT_VERSION = 3;
/** Bump when chunking or tokenizing changes, so old indexes are rebuilt rather than reused. */
export const ANALYZER_VERSION = 5;
const META_FILE = "lexical.meta.bin";
/** The JSON metadata of format 1, removed by the first build of a later format. */
const FORMAT_1_META_FILE = "lexical.json";
const POSTINGS_FILE = "lexical.postings.bin";
const FILES_FILE = "lexical.files.json";

export type { Bm25Params };

/** Defaults tuned on the labelled query set (docs/search.md). */
export const DEFAULT_BM25: Bm25Params = { k1: 1.2, b: 0.75, pathWeight: 2, symbolWeight: 3 };

/** Options for {@link buildIndex}. */
export interface BuildIndexOptions {
  /** Include globs (gitignore syntax). */
  globs?: string[];
  /** Exclude globs (gitignore syntax). */
  excludes?: string[];
  /** Line window for text files and oversize pieces (default 60). */
  chunkLines?: number;
  /** Skip files larger than this (default 1 MiB). */
  maxFileBytes?: number;
  /** Ignore the previous index and re-read every file. */
  full?: boolean;
  /** Called as files are processed (for a progress bar); `total` is known once the walk ends. */
  onProgress?: (done: number, total: number) => void;
  /** Cancels the build. */
  signal?: AbortSignal;
  /**
   * A build in the background of a session: its walk lets input and timers run now and then (while the
   * function, when given, says so: not once a search waits for the build).
   */
  background?: boolean | (() => boolean);
  /** BM25F parameters stored with the index. */
  params?: Partial<Bm25Params>;
  /**
   * Bring the index up to date within the scope it was built with: the globs, excludes, size limit, chunk
   * window and parameters of the build that wrote it, unless given here (a refresh; `index` starts over
   * from what it is given).
   */
  keepScope?: boolean;
}

/** Which files a build indexed (`index --glob/--exclude/--max-file-bytes`), kept for refreshes. */
export interface IndexScope {
  globs?: string[];
  excludes?: string[];
  maxFileBytes?: number;
}

/** Summary of a build. */
export interface BuildIndexResult {
  files: number;
  chunks: number;
  /** Files read this time (the rest were reused). */
  filesRead: number;
  /** Files reused unchanged from the previous index. */
  filesReused: number;
  /** Files dropped since the previous index. */
  filesRemoved: number;
  /** Every folder the walk entered (workspace-relative, sorted), including those holding no indexed file. */
  folders: string[];
  terms: number;
  seconds: number;
  /** Where the index lives. */
  dir: string;
}

/** One ranked chunk, as `esearch --json` prints it. */
export interface SearchHit {
  path: string;
  start_line: number;
  end_line: number;
  score: number;
  symbol?: string;
  snippet: string;
}

interface FileEntry {
  size: number;
  mtimeMs: number;
  /** Index of the file's first chunk and how many it has. */
  first: number;
  count: number;
}

/** The metadata as loaded, with each file's record when loaded for a build. */
type StoredMeta = LoadedMeta & {
  /** Per-file records for incremental builds; loaded only for builds (`lexical.files.json`). */
  files?: Record<string, FileEntry>;
  /** The scope the build was given; loaded with `files`. */
  scope?: IndexScope;
};

/** A loaded index. */
export interface LexicalIndex {
  meta: StoredMeta;
  /** The postings, held whole or read term by term (postings.ts). */
  postings: PostingsSource;
  /** Every posting's chunk id and weight (a lazily loaded index reads and checks the whole file first). */
  readonly ids: Uint32Array;
  readonly weights: Float32Array;
  avgLen: number;
  /** The workspace the index was loaded from: term proximity re-reads the text of the best chunks. */
  root?: string;
}

/** A chunk of the index being built: where it is, without its terms (those go to the postings). */
type ChunkInfo = Pick<AnalyzedChunk, "start" | "end" | "symbol" | "kind" | "len"> & { path: string };

/** Where the lexical index of a workspace lives. */
export function indexFiles(root: string): { dir: string; meta: string; postings: string; files: string } {
  const dir = workspacePaths(root).indexDir;
  return {
    dir,
    meta: join(dir, META_FILE),
    postings: join(dir, POSTINGS_FILE),
    files: join(dir, FILES_FILE),
  };
}

/** True when the workspace has a lexical index. */
export async function hasIndex(root: string): Promise<boolean> {
  try {
    await Deno.stat(indexFiles(root).meta);
    return true;
  } catch {
    return false;
  }
}

/**
 * The workspace-relative `paths` whose file changed (or went away) since the index was built: what a search
 * answered from the index as it was may be out of date for them. A few `stat`s, and the index's file table
 * read only when one of the files is newer than the index (a file dated in the future counts only if its
 * size or time differs from what the build recorded).
 */
export async function changedSinceIndexed(root: string, paths: readonly string[]): Promise<string[]> {
  const index = await loadIndexForSearch(root);
  if (!index) return [];
  const built = Date.parse(index.meta.createdAt);
  const newer = new Map<string, FileStamp | null>();
  for (const rel of new Set(paths)) {
    try {
      const stamp = stampOf(Deno.statSync(join(root, rel))); // a few files: sync calls cost less here
      if (stamp.mtimeMs > built) newer.set(rel, stamp);
    } catch {
      newer.set(rel, null); // removed since
    }
  }
  if (newer.size === 0) return [];
  const records = (await loadIndex(root, { files: true, postings: "lazy" }))?.meta.files ?? {};
  return [...newer].filter(([rel, stamp]) => !stamp || !sameStamp(records[rel], stamp)).map(([rel]) => rel);
}

/** True when the workspace has only an index of the first format (`lexical.json`), which a build replaces. */
export async function hasFormat1Index(root: string): Promise<boolean> {
  if (await hasIndex(root)) return false;
  try {
    await Deno.stat(join(indexFiles(root).dir, FORMAT_1_META_FILE));
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads the workspace's index; `null` when there is none, it is from an incompatible version, or it is
 * damaged (then with a notice: the caller rebuilds it). `postings: "lazy"` reads postings term by term when
 * a query needs them instead of the whole file now (searches; see postings.ts); builds take them whole.
 */
export async function loadIndex(
  root: string,
  options: LoadOptions = {},
): Promise<LexicalIndex | null> {
  // A build (maybe in another process) renames the new postings into place before the metadata.
  const loaded = await loadPastBuild(() => loadIndexOnce(root, options));
  return loaded instanceof FilesMismatch ? damaged(indexFiles(root).postings, loaded.message) : loaded;
}

/** Says a file of the index is damaged (once per file and process); the caller then rebuilds the index. */
function damaged(file: string, why: string): null {
  integrityNotice(file, `${file} is damaged (${why}): rebuilding the index`);
  return null;
}

/** What {@link loadIndex} loads: each file's record too (builds), and the postings whole or term by term. */
export interface LoadOptions {
  files?: boolean;
  postings?: "whole" | "lazy";
}

async function loadIndexOnce(
  root: string,
  options: LoadOptions,
): Promise<LexicalIndex | FilesMismatch | null> {
  const files = indexFiles(root);
  let meta: StoredMeta;
  let postings: PostingsSource;
  try {
    meta = decodeMeta(await readWholeFile(files.meta), FORMAT_VERSION);
    const total = meta.termOffset[meta.termOffset.length - 1];
    const blockSize = meta.postings.blockSize;
    if (options.postings === "lazy") {
      const info = await Deno.stat(files.postings);
      if (info.size !== total * 8) {
        return new FilesMismatch(`${info.size} bytes where ${total * 8} were written`);
      }
      postings = lazyPostings(files.postings, total, identityOf(info), blockSize, meta.postingsBlockSums);
    } else {
      const bytes = await readWholeFile(files.postings);
      if (bytes.byteLength !== total * 8) {
        return new FilesMismatch(`${bytes.byteLength} bytes where ${total * 8} were written`);
      }
      const sums = blockChecksums(bytes, blockSize);
      if (sums.some((v, i) => v !== meta.postingsBlockSums[i])) {
        return new FilesMismatch("checksum mismatch");
      }
      // Views on the bytes as read (a copy of 15 MB cost 60-110 ms here); a misaligned start is copied.
      postings = wholePostings(bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(), total);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof MetaFormatError) return err.outdated ? null : damaged(files.meta, err.message);
    throw err;
  }
  if (options.files) {
    try {
      const stored = JSON.parse(await readWholeTextFile(files.files));
      // Written with the same build stamp as the meta; a mismatch means a torn write: rebuild from scratch.
      if (stored.createdAt !== meta.createdAt) return null;
      meta.files = stored.files;
      meta.scope = stored.scope ?? {};
    } catch {
      return null;
    }
  }
  const n = meta.chunkLen.length;
  const avgLen = n === 0 ? 1 : meta.chunkLen.reduce((a, b) => a + b, 0) / n;
  return {
    meta,
    postings,
    get ids() {
      return postings.whole().ids;
    },
    get weights() {
      return postings.whole().weights;
    },
    avgLen,
    root,
  };
}

/**
 * The indexes this process loaded for searching, by workspace, with the identity of the meta file they were
 * loaded from. A session searching the same workspace again reuses its index (loading one of 20k files
 * costs a few hundred ms, ranking it a few ms) until a build replaces the meta file. At most two
 * workspaces (a session that `cd`s back and forth), so the memory stays bounded.
 */
const searchCache = new LoadedWhileUnchanged<LexicalIndex>(2);

/**
 * {@link loadIndex} for searching (postings read as queries need them): the index this process already
 * loaded for `root` while its `lexical.meta.bin` is unchanged, else loaded from disk (and kept for the next
 * search).
 */
export function loadIndexForSearch(root: string): Promise<LexicalIndex | null> {
  return searchCache.get(root, [indexFiles(root).meta], () => loadIndex(root, { postings: "lazy" }));
}

/**
 * The folders the index's last build walked (workspace-relative, sorted), as its file table records them; null
 * when there is no index or its table predates the record (a file watcher then derives them from the paths).
 */
export async function indexedFolders(root: string): Promise<string[] | null> {
  try {
    const stored = JSON.parse(await readWholeTextFile(indexFiles(root).files));
    return Array.isArray(stored.folders) ? stored.folders : null;
  } catch {
    return null;
  }
}

/** What {@link rankInWorkspace} loads and builds. */
export interface WorkspaceRankOptions {
  /** Build the index first when there is none (default true). */
  autoBuild?: boolean;
  /** Passed to a build (progress bar). */
  build?: BuildIndexOptions;
  /** Reuse the index this process loaded for the workspace (default true). */
  reuse?: boolean;
}

/**
 * Ranks `query` on the workspace's index: loaded for searching (built first when missing and `autoBuild`).
 * Its postings are read as the query needs them; when they turn out replaced by a build in another process,
 * or damaged, since the index was loaded, the index is loaded again with its whole postings checked (a
 * damaged one is rebuilt, with a notice) and the query ranked once more.
 */
export async function rankInWorkspace(
  root: string,
  query: string,
  k: number,
  options: WorkspaceRankOptions = {},
): Promise<RankedChunk[]> {
  const load = options.reuse === false
    ? (r: string) => loadIndex(r, { postings: "lazy" })
    : loadIndexForSearch;
  const loadOrBuild = async (loader: (r: string) => Promise<LexicalIndex | null>) => {
    let index = await loader(root);
    if (!index) {
      if (options.autoBuild === false) throw new UserError("No index found. Run 'index' first.");
      // None, outdated, or damaged (a refresh's quick check trusts unchanged files): build it from the files,
      // in the scope it had if its file table still says.
      await buildIndex(root, { ...options.build, full: true, keepScope: true });
      index = await loader(root);
      if (!index) throw new UserError("esearch: the index could not be built");
    }
    return index;
  };
  const index = await loadOrBuild(load);
  try {
    return rankChunks(index, query, k);
  } catch (err) {
    if (!(err instanceof PostingsUnreadableError)) throw err;
    searchCache.forget(root);
    return rankChunks(await loadOrBuild((r) => loadIndex(r)), query, k);
  }
}

/** Files at or above this count are analysed in worker threads. */
const PARALLEL_MIN_FILES = 200;
const WORKER_BATCH = 32;

/**
 * Analyses files (read, chunk, tokenize), in workers when there are many and more than one core.
 * Results come back in input order; `onDone(n)` reports progress.
 */
async function analyzeFiles(
  jobs: { abs: string; rel: string }[],
  config: { chunkLines: number; maxFileBytes: number; params: Bm25Params },
  onDone: (n: number) => void,
  signal?: AbortSignal,
): Promise<(AnalyzedChunk[] | null)[]> {
  const cores = navigator.hardwareConcurrency || 1;
  const results: (AnalyzedChunk[] | null)[] = new Array(jobs.length);
  if (jobs.length < PARALLEL_MIN_FILES || cores < 2) {
    for (let i = 0; i < jobs.length; i++) {
      if (signal?.aborted) throw new UserError("index: cancelled");
      results[i] = analyzeFileSync(
        jobs[i].abs,
        jobs[i].rel,
        config.maxFileBytes,
        config.chunkLines,
        config.params,
      );
      if (i % 25 === 24) onDone(25);
    }
    onDone(jobs.length % 25);
    return results;
  }
  const count = Math.min(4, cores);
  const workers: Worker[] = [];
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let outstanding = 0;
      const send = (w: Worker) => {
        if (next >= jobs.length) return;
        const from = next;
        next = Math.min(jobs.length, next + WORKER_BATCH);
        outstanding++;
        w.postMessage({ type: "files", id: from, files: jobs.slice(from, next) });
      };
      onAbort = () => reject(new UserError("index: cancelled"));
      signal?.addEventListener("abort", onAbort, { once: true });
      for (let k = 0; k < count; k++) {
        const w = new Worker(new URL("./index_worker.ts", import.meta.url), { type: "module" });
        workers.push(w);
        w.postMessage({ type: "init", ...config });
        w.onmessage = (ev: MessageEvent<{ id: number; results: (AnalyzedChunk[] | null)[] }>) => {
          outstanding--;
          ev.data.results.forEach((r, i) => (results[ev.data.id + i] = r));
          onDone(ev.data.results.length);
          send(w);
          if (outstanding === 0 && next >= jobs.length) resolve();
        };
        w.onerror = (ev) => {
          ev.preventDefault();
          reject(new Error(`index worker failed: ${ev.message}`));
        };
        // Two batches in flight per worker keep it busy while the previous answer travels back.
        send(w);
        send(w);
      }
    });
  } finally {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
  }
  return results;
}

/**
 * Builds (or incrementally refreshes) the workspace's lexical index.
 *
 * @example
 * ```ts
 * const r = await buildIndex("/work/project", { excludes: ["vendor/"] });
 * console.log(`${r.chunks} chunks, ${r.filesRead} files read`);
 * ```
 */
export async function buildIndex(root: string, options: BuildIndexOptions = {}): Promise<BuildIndexResult> {
  const started = performance.now();
  // Whether anything changed needs only the metadata and the file table; the postings (15 MB on a 20k-file
  // tree, checksummed as read) are read only when a file did change and the old ones are merged.
  const stored = options.full && !options.keepScope
    ? null
    : await loadIndex(root, { files: true, postings: "lazy" });
  const kept = options.keepScope && stored ? stored.meta : undefined;
  const chunkLines = options.chunkLines ?? kept?.chunkLines ?? DEFAULT_CHUNK_LINES;
  const params: Bm25Params = { ...DEFAULT_BM25, ...kept?.params, ...options.params };
  const scope: IndexScope = {
    globs: options.globs ?? kept?.scope?.globs,
    excludes: options.excludes ?? kept?.scope?.excludes,
    maxFileBytes: options.maxFileBytes ?? kept?.scope?.maxFileBytes,
  };
  const folders: string[] = [];
  const walkOptions = {
    globs: scope.globs,
    excludes: [...INDEX_EXCLUDES, ...(scope.excludes ?? [])],
    maxFileBytes: scope.maxFileBytes,
    signal: options.signal,
    onFolder: (rel: string) => folders.push(rel),
  };
  const background = options.background;
  const walked = background
    ? await walkFilesYielding(root, walkOptions, typeof background === "function" ? background : undefined)
    : await walkFiles(root, walkOptions);
  folders.sort();
  const reusable = (index: LexicalIndex | null): index is LexicalIndex =>
    index !== null && index.meta.files !== undefined && index.meta.chunkLines === chunkLines &&
    index.meta.analyzer === ANALYZER_VERSION && JSON.stringify(index.meta.params) === JSON.stringify(params);
  let previous = options.full ? null : stored;
  if (reusable(previous) && sameScope(previous.meta.scope, scope)) {
    // Nothing changed (same files, sizes and mtimes): keep the index as it is.
    const old = previous.meta.files!;
    if (sameFiles(old, walked)) {
      options.onProgress?.(walked.length, walked.length);
      const loc = indexFiles(root);
      return {
        files: Object.values(old).filter((e) => e.count > 0).length,
        chunks: previous.meta.chunkLen.length,
        filesRead: 0,
        filesReused: walked.length,
        filesRemoved: 0,
        folders,
        terms: previous.meta.terms.length,
        seconds: (performance.now() - started) / 1000,
        dir: loc.dir,
      };
    }
    // The merge below reuses the old postings: read and check them all now. Damaged, or replaced by another
    // build meanwhile: load the index again whole, as a search does (a damaged one is rebuilt, with a notice).
    try {
      previous.postings.whole();
    } catch (err) {
      if (!(err instanceof PostingsUnreadableError)) throw err;
      previous = await loadIndex(root, { files: true });
    }
  }
  const compatible = reusable(previous);

  // Plan: unchanged files keep their chunks; the others are read and analysed (in workers when many).
  const toRead: { abs: string; rel: string }[] = [];
  for (const f of walked) {
    const old = compatible ? previous!.meta.files![f.rel] : undefined;
    if (!sameStamp(old, f)) toRead.push({ abs: f.abs, rel: f.rel });
  }
  let done = walked.length - toRead.length;
  options.onProgress?.(done, walked.length);
  const analysed = await analyzeFiles(
    toRead,
    { chunkLines, maxFileBytes: scope.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, params },
    (n) => {
      done += n;
      options.onProgress?.(done, walked.length);
    },
    options.signal,
  );
  const fresh = new Map<string, AnalyzedChunk[] | null>();
  toRead.forEach((f, i) => fresh.set(f.rel, analysed[i]));

  // The new chunk list, in walk order. A reused chunk keeps its postings in the previous index: it is only
  // renumbered (`oldToNew`); the terms of fresh chunks are collected in `added`, ids ascending.
  const chunks: ChunkInfo[] = [];
  const files: Record<string, FileEntry> = {};
  const filesRead = toRead.length;
  let filesReused = 0;
  const oldToNew = new Int32Array(compatible ? previous!.meta.chunkLen.length : 0).fill(-1);
  const added = new Map<string, { ids: number[]; w: number[] }>();
  let oldSymbols: readonly string[] | undefined; // the previous index's, decoded at the first reused file
  for (const f of walked) {
    const first = chunks.length;
    if (fresh.has(f.rel)) {
      // Binary/minified files are remembered with no chunks, so an unchanged one is not read again.
      for (const a of fresh.get(f.rel) ?? []) {
        const id = chunks.length;
        chunks.push({ path: f.rel, start: a.start, end: a.end, symbol: a.symbol, kind: a.kind, len: a.len });
        for (let k = 0; k < a.terms.length; k++) {
          let p = added.get(a.terms[k]);
          if (!p) added.set(a.terms[k], p = { ids: [], w: [] });
          p.ids.push(id);
          p.w.push(a.weights[k]);
        }
      }
    } else {
      const old = previous!.meta.files![f.rel];
      const m = previous!.meta;
      oldSymbols ??= m.chunkSymbol.all();
      for (let c = old.first; c < old.first + old.count; c++) {
        oldToNew[c] = chunks.length;
        chunks.push({
          path: f.rel,
          start: m.chunkStart[c],
          end: m.chunkEnd[c],
          symbol: oldSymbols[c],
          kind: m.chunkKind[c],
          len: m.chunkLen[c],
        });
      }
      filesReused++;
    }
    files[f.rel] = { size: f.size, mtimeMs: f.mtimeMs, first, count: chunks.length - first };
  }
  const filesRemoved = compatible
    ? Object.keys(previous!.meta.files!).filter((p) => !(p in files)).length
    : 0;

  const { terms, termOffset, bin } = mergePostings(compatible ? previous : null, oldToNew, added);
  const paths: string[] = [];
  const pathIdx = new Map<string, number>();
  const chunkPath = chunks.map((c) => {
    let i = pathIdx.get(c.path);
    if (i === undefined) {
      pathIdx.set(c.path, i = paths.length);
      paths.push(c.path);
    }
    return i;
  });
  const meta = {
    version: FORMAT_VERSION,
    analyzer: ANALYZER_VERSION,
    chunkLines,
    params,
    createdAt: new Date().toISOString(),
    files,
    paths,
    chunkPath,
    chunkStart: chunks.map((c) => c.start),
    chunkEnd: chunks.map((c) => c.end),
    chunkSymbol: chunks.map((c) => c.symbol),
    chunkKind: chunks.map((c) => c.kind),
    chunkLen: chunks.map((c) => c.len),
    terms,
    termOffset,
  };
  const loc = indexFiles(root);
  // Postings first, then the meta that describes them: a reader never sees meta pointing past the postings.
  const { files: fileRecords, ...searchMeta } = meta;
  await atomicWriteFile(loc.postings, bin);
  await atomicWriteFile(
    loc.files,
    JSON.stringify({ createdAt: meta.createdAt, scope, folders, files: fileRecords }),
  );
  await atomicWriteFile(
    loc.meta,
    encodeMeta({
      ...searchMeta,
      postings: { bytes: bin.byteLength, blockSize: POSTINGS_BLOCK },
      postingsBlockSums: blockChecksums(bin, POSTINGS_BLOCK),
    }),
  );
  await Deno.remove(join(loc.dir, FORMAT_1_META_FILE)).catch(() => {});
  return {
    files: Object.values(files).filter((e) => e.count > 0).length,
    chunks: chunks.length,
    filesRead,
    filesReused,
    filesRemoved,
    folders,
    terms: terms.length,
    seconds: (performance.now() - started) / 1000,
    dir: loc.dir,
  };
}

/**
 * The postings of a build: the previous index's, renumbered through `oldToNew` (-1: the chunk is gone),
 * merged term by term with the postings of the fresh chunks. Every list comes out sorted by chunk id, as a
 * build from scratch writes it. Working on the stored arrays instead of rebuilding per-chunk term lists
 * keeps a small change to a large index cheap: one pass over the old postings, no object per chunk.
 */
function mergePostings(
  previous: LexicalIndex | null,
  oldToNew: Int32Array,
  added: Map<string, { ids: number[]; w: number[] }>,
): { terms: string[]; termOffset: number[]; bin: Uint8Array<ArrayBuffer> } {
  const oldTerms = previous?.meta.terms.all() ?? [];
  const oldOffset = previous?.meta.termOffset ?? [0];
  // Taken once: `ids`/`weights` are getters, and a lazily loaded index makes new views at every call.
  const oldIds = previous?.ids ?? new Uint32Array(0);
  const oldWeights = previous?.weights ?? new Float32Array(0);
  const addedTerms = [...added.keys()].sort();
  const capacity = (oldOffset[oldOffset.length - 1] ?? 0) + addedTerms.reduce(
    (n, t) => n + added.get(t)!.ids.length,
    0,
  );
  const outIds = new Uint32Array(capacity);
  const outW = new Float32Array(capacity);
  const terms: string[] = [];
  const termOffset: number[] = [];
  let total = 0;
  let i = 0;
  let j = 0;
  while (i < oldTerms.length || j < addedTerms.length) {
    const fromOld = j >= addedTerms.length || (i < oldTerms.length && oldTerms[i] <= addedTerms[j]);
    const term = fromOld ? oldTerms[i] : addedTerms[j];
    const start = total;
    if (fromOld) {
      // Kept chunks are renumbered in walk order, so the old list stays sorted (checked below).
      for (let p = oldOffset[i]; p < oldOffset[i + 1]; p++) {
        const id = oldToNew[oldIds[p]];
        if (id >= 0) {
          outIds[total] = id;
          outW[total++] = oldWeights[p];
        }
      }
      i++;
    }
    const fresh = term === addedTerms[j] ? added.get(term)! : null;
    if (fresh) {
      // Merge the fresh chunks' ids (ascending) into the kept ones.
      const keptEnd = total;
      let a = keptEnd - 1;
      total += fresh.ids.length;
      for (let b = fresh.ids.length - 1, at = total - 1; b >= 0; at--) {
        if (a >= start && outIds[a] > fresh.ids[b]) {
          outIds[at] = outIds[a];
          outW[at] = outW[a--];
        } else {
          outIds[at] = fresh.ids[b];
          outW[at] = fresh.w[b--];
        }
      }
      j++;
    }
    if (total === start) continue; // every chunk with this term is gone
    if (!sortedRun(outIds, start, total)) sortRun(outIds, outW, start, total);
    terms.push(term);
    termOffset.push(start);
  }
  termOffset.push(total);
  const bin = new Uint8Array(total * 8);
  new Uint32Array(bin.buffer, 0, total).set(outIds.subarray(0, total));
  new Float32Array(bin.buffer, total * 4, total).set(outW.subarray(0, total));
  return { terms, termOffset, bin };
}

function sortedRun(ids: Uint32Array, from: number, to: number): boolean {
  for (let k = from + 1; k < to; k++) if (ids[k - 1] > ids[k]) return false;
  return true;
}

/** True when two scopes select files the same way (an index from before scopes were kept has `{}`). */
function sameScope(a: IndexScope | undefined, b: IndexScope): boolean {
  const norm = (x: IndexScope | undefined) =>
    JSON.stringify([x?.globs ?? [], x?.excludes ?? [], x?.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES]);
  return norm(a) === norm(b);
}

/** Sorts `ids[from, to)` ascending, carrying the weights along (walk order changed between builds). */
function sortRun(ids: Uint32Array, weights: Float32Array, from: number, to: number): void {
  const order = Array.from({ length: to - from }, (_, k) => from + k).sort((x, y) => ids[x] - ids[y]);
  const sortedIds = order.map((k) => ids[k]);
  const sortedW = order.map((k) => weights[k]);
  ids.set(sortedIds, from);
  weights.set(sortedW, from);
}

/** Query tokens: like document tokens, plus the stems of whole words so `offsets` meets `offset`. */
export function queryTokens(query: string): string[] {
  const toks = new Set(codeTokens(query));
  for (const word of query.split(/\s+/)) {
    const parts = splitIdentifier(word.replace(/[^A-Za-z0-9_]/g, ""));
    if (parts.length > 1) { for (const p of parts) if (p.length >= 2) toks.add(stem(p)); }
  }
  return [...toks];
}

/** A ranked chunk before snippets are attached. */
export interface RankedChunk {
  chunk: number;
  path: string;
  start_line: number;
  end_line: number;
  symbol?: string;
  score: number;
}

/**
 * Ranks the index's chunks for a query: BM25F per chunk, then (ranking.ts) a boost for chunks declaring a
 * looked-up identifier, priors per file kind and term proximity for descriptive queries, file-level
 * aggregation (off by default), and file diversification of the listed chunks. Returns the top `k`;
 * `ranking` overrides the defaults (the bench's tuning uses it).
 */
export function rankChunks(
  index: LexicalIndex,
  query: string,
  k: number,
  ranking: RankingParams = DEFAULT_RANKING,
): RankedChunk[] {
  const { meta } = index;
  const ident = isIdentifierQuery(query);
  const k1 = ranking.k1 ?? meta.params.k1;
  const b = ranking.b ?? meta.params.b;
  const qTerms = queryTokens(query);
  const scores = bm25Scores(index, qTerms, k1, b);
  if (!ident && ranking.expand) {
    const ids = qTerms.map((t) => meta.terms.find(t)).filter((t) => t >= 0);
    const extra = expansionTerms(index, ids, {
      perTerm: ranking.expandPerTerm,
      minLift: ranking.expandLift,
    }).map((t) => meta.terms.at(t));
    for (const [c, s] of bm25Scores(index, extra, k1, b)) {
      scores.set(c, (scores.get(c) ?? 0) + ranking.expand * s);
    }
  }
  if (!ident && ranking.synonyms) {
    // Code words for the query's behaviour words (code_thesaurus.ts), at a fraction of a query term's weight.
    for (const [c, s] of bm25Scores(index, synonymTerms(query, qTerms), k1, b)) {
      scores.set(c, (scores.get(c) ?? 0) + ranking.synonyms * s);
    }
  }
  if (ident) {
    // The chunk that declares the name (or a file named after it) is what an exact-name lookup wants.
    const name = query.trim().split(".").pop()!.toLowerCase();
    const t = meta.terms.find(DEF_PREFIX + name);
    const defining = new Set<number>();
    if (t >= 0) {
      for (const c of termPostings(index, t).ids) defining.add(c);
    }
    for (const [c, s] of scores) {
      if (defining.has(c) || baseName(meta.paths.at(meta.chunkPath[c])) === name) {
        scores.set(c, s * ranking.defBoost);
      }
    }
  } else {
    const kinds = new Map<number, number>();
    for (const [c, s] of scores) {
      const pi = meta.chunkPath[c];
      let prior = kinds.get(pi);
      if (prior === undefined) kinds.set(pi, prior = ranking.prior[kindOfPath(meta, pi)]);
      if (prior !== 1) scores.set(c, s * prior);
    }
    if (ranking.fileCoord) {
      // How many of the query's terms each file holds, in any of its chunks.
      const present = qTerms.map((t) => meta.terms.find(t)).filter((t) => t >= 0);
      const perFile = new Map<number, number>();
      for (const t of present) {
        const files = new Set<number>();
        for (const c of termPostings(index, t).ids) {
          files.add(meta.chunkPath[c]);
        }
        for (const f of files) perFile.set(f, (perFile.get(f) ?? 0) + 1);
      }
      for (const [c, s] of scores) {
        const share = (perFile.get(meta.chunkPath[c]) ?? 0) / Math.max(1, present.length);
        scores.set(c, s * Math.pow(share, ranking.fileCoord));
      }
    }
    if (ranking.graph) {
      const central = fileCentrality(index);
      const pow = ranking.graphPow ?? 1;
      for (const [c, s] of scores) {
        scores.set(c, s * (1 + ranking.graph * Math.pow(central[meta.chunkPath[c]], pow)));
      }
    }
  }
  if (!ident && ranking.proximity && index.root) proximityBoost(index, scores, qTerms, ranking);
  if (ranking.fileAgg > 0) {
    // Each file's 2nd and 3rd best chunks lift all of its chunks.
    const best = new Map<number, [number, number, number]>();
    for (const [c, s] of scores) {
      const pi = meta.chunkPath[c];
      const b = best.get(pi) ?? [0, 0, 0];
      if (s > b[0]) b.splice(0, 3, s, b[0], b[1]);
      else if (s > b[1]) b.splice(1, 2, s, b[1]);
      else if (s > b[2]) b[2] = s;
      best.set(pi, b);
    }
    for (const [c, s] of scores) {
      const b = best.get(meta.chunkPath[c])!;
      scores.set(c, s + ranking.fileAgg * (b[1] + b[2] / 2));
    }
  }
  const diversify = ranking.diversify !== undefined && ranking.diversify < 1;
  let top = topEntries(scores, diversify ? Math.max(k, 50) * 4 : k);
  if (diversify) {
    // Each further chunk of a file already listed is multiplied by `diversify` once more. A file's best chunk
    // keeps its score, so the order of files is unchanged; only which chunks fill the first k places moves.
    const seen = new Map<number, number>();
    top = top.map(([c, s]) => {
      const pi = meta.chunkPath[c];
      const n = seen.get(pi) ?? 0;
      seen.set(pi, n + 1);
      return [c, n === 0 ? s : s * Math.pow(ranking.diversify!, n)] as [number, number];
    }).sort(byScore);
  }
  top = top.slice(0, k);
  return top.map(([c, score]) => ({
    chunk: c,
    path: meta.paths.at(meta.chunkPath[c]),
    start_line: meta.chunkStart[c],
    end_line: meta.chunkEnd[c],
    symbol: meta.chunkSymbol.at(c) || undefined,
    score: Math.round(score * 10000) / 10000,
  }));
}

/** Each path's file kind by path index, worked out once per loaded index: a query scores thousands of paths. */
const pathKinds = new WeakMap<LexicalIndex["meta"], (FileKind | undefined)[]>();

function kindOfPath(meta: LexicalIndex["meta"], pi: number): FileKind {
  let kinds = pathKinds.get(meta);
  if (!kinds) pathKinds.set(meta, kinds = new Array(meta.paths.length));
  return kinds[pi] ??= fileKind(meta.paths.at(pi));
}

/**
 * Term proximity for descriptive queries: re-reads the text of the best `proximityTop` chunks and multiplies
 * each by 1 + proximity × cover, where cover is the share of the query's indexed terms beyond the first that
 * occur together within some window of `proximityLines` consecutive lines of the chunk (1 when all do). A
 * chunk whose matches sit together (`if (this.timeout) … setTimeout(…)`) describes the behaviour; one that
 * has the same words scattered across unrelated lines mostly does not. A file that cannot be read keeps its
 * score.
 */
function proximityBoost(
  index: LexicalIndex,
  scores: Map<number, number>,
  qTerms: string[],
  ranking: RankingParams,
): void {
  const { meta } = index;
  const present = new Set(qTerms.filter((t) => meta.terms.find(t) >= 0));
  if (present.size < 2) return;
  const top = topEntries(scores, ranking.proximityTop ?? 30);
  const span = ranking.proximityLines ?? 3;
  const texts = new Map<string, string | null>();
  for (const [c, s] of top) {
    const path = meta.paths.at(meta.chunkPath[c]);
    let text = texts.get(path);
    if (text === undefined) {
      try {
        text = Deno.readTextFileSync(join(index.root!, path));
      } catch {
        text = null;
      }
      texts.set(path, text);
    }
    if (text === null) continue;
    const perLine = linesBetween(text, meta.chunkStart[c], meta.chunkEnd[c])
      .map((l) => new Set(codeTokens(l).filter((t) => present.has(t))));
    let best = 0;
    for (let i = 0; i < perLine.length && best < present.size; i++) {
      const seen = new Set<string>();
      for (let j = i; j < Math.min(perLine.length, i + span); j++) for (const t of perLine[j]) seen.add(t);
      if (seen.size > best) best = seen.size;
    }
    const cover = Math.max(0, best - 1) / (present.size - 1);
    scores.set(c, s * (1 + ranking.proximity! * cover));
  }
}

/**
 * Lines `first` to `last` (1-based, inclusive) of `text`, as `text.split("\n").slice(first - 1, last)` gives
 * them, found by looking for newlines instead of splitting the whole text: proximity reads chunks of files of
 * megabytes (bundles), and splitting such a file made an array of every line for a few dozen.
 */
export function linesBetween(text: string, first: number, last: number): string[] {
  let at = 0;
  for (let line = 1; line < first; line++) {
    const nl = text.indexOf("\n", at);
    if (nl === -1) return [];
    at = nl + 1;
  }
  const out: string[] = [];
  for (let line = first; line <= last; line++) {
    const nl = text.indexOf("\n", at);
    if (nl === -1) {
      out.push(text.slice(at));
      break;
    }
    out.push(text.slice(at, nl));
    at = nl + 1;
  }
  return out;
}

/** The postings of term `t` (its index in the vocabulary). */
function termPostings(index: LexicalIndex, t: number): TermPostings {
  return index.postings.range(index.meta.termOffset[t], index.meta.termOffset[t + 1]);
}

/** BM25F score of every chunk that has at least one of the terms. */
function bm25Scores(index: LexicalIndex, terms: string[], k1: number, b: number): Map<number, number> {
  const { meta, avgLen } = index;
  const n = meta.chunkLen.length;
  const scores = new Map<number, number>();
  for (const term of terms) {
    const t = meta.terms.find(term);
    if (t < 0) continue;
    const { ids, weights } = termPostings(index, t);
    const df = ids.length;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    for (let p = 0; p < df; p++) {
      const c = ids[p];
      const tf = weights[p];
      const norm = k1 * (1 - b + b * (meta.chunkLen[c] / avgLen));
      scores.set(c, (scores.get(c) ?? 0) + idf * (tf * (k1 + 1)) / (tf + norm));
    }
  }
  return scores;
}

/**
 * The snippet for a hit: `context` lines either side of the chunk line with the most query terms
 * (the whole chunk when `context` is negative). Reads the file as it is now.
 */
export async function snippetFor(
  root: string,
  hit: { path: string; start_line: number; end_line: number },
  query: string,
  context: number,
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(root, hit.path));
  } catch {
    return "";
  }
  const lines = linesBetween(text, hit.start_line, hit.end_line);
  if (context < 0) return lines.join("\n");
  const q = new Set(queryTokens(query));
  let best = 0;
  let bestScore = -1;
  lines.forEach((l, i) => {
    const s = codeTokens(l).filter((t) => q.has(t)).length;
    if (s > bestScore) {
      best = i;
      bestScore = s;
    }
  });
  return lines.slice(Math.max(0, best - context), best + context + 1).join("\n");
}

/** Options for {@link searchIndex}. */
export interface SearchOptions {
  /** Hits to return (default 5). */
  k?: number;
  /** Snippet lines either side of the best line (default 4; negative for the whole chunk). */
  context?: number;
  /** Build the index first when there is none (default true). */
  autoBuild?: boolean;
  /**
   * Refresh the index incrementally before searching (default false), within the scope it was built with:
   * re-reads only changed files, and is a quick size/mtime check when nothing changed. Use it after editing
   * files.
   */
  refresh?: boolean;
  /** Passed to the automatic build (progress bar). */
  build?: BuildIndexOptions;
  /**
   * Reuse the index this process last loaded for the workspace while its `lexical.meta.bin` is unchanged
   * (default true); false loads it from disk, as a new process does.
   */
  reuse?: boolean;
}

/**
 * Searches the workspace's lexical index (building it first when missing and `autoBuild` is on).
 *
 * @example
 * ```ts
 * const hits = await searchIndex("/work/project", "where are consumer offsets committed", { k: 5 });
 * ```
 */
export async function searchIndex(
  root: string,
  query: string,
  options: SearchOptions = {},
): Promise<SearchHit[]> {
  if (query.trim() === "") throw new UserError("esearch: the query is empty: say what you are looking for");
  if (options.refresh && (options.autoBuild !== false || await hasIndex(root))) {
    await buildIndex(root, { ...options.build, keepScope: true });
  }
  const ranked = await rankInWorkspace(root, query, options.k ?? 5, options);
  const context = options.context ?? 4;
  return await Promise.all(ranked.map(async (r) => ({
    path: r.path,
    start_line: r.start_line,
    end_line: r.end_line,
    score: r.score,
    ...(r.symbol ? { symbol: r.symbol } : {}),
    snippet: await snippetFor(root, r, query, context),
  })));
}

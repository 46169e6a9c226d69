/**
 * On-disk storage of an embedding index under `.dspy_index/`: `emb_meta.json` (backend, model, dimension,
 * files with size/mtime for incremental rebuilds, and per-chunk path/lines/symbol) and `emb_vectors.f32`
 * (all vectors as little-endian Float32, row after row). Also exports and reads the old
 * `emb_index.jsonl` format (`{path, start_line, end_line, vector}` per line).
 *
 * @module
 */

import { join } from "node:path";
import { atomicWriteFile } from "../core/atomic.ts";
import { LoadedWhileUnchanged } from "../core/loaded_cache.ts";
import { readWholeFile } from "../core/read_whole.ts";
import { workspacePaths } from "../core/workspace.ts";
import {
  FilesMismatch,
  IndexDamagedError,
  integrityNotice,
  integrityProblem,
  type IntegrityStamp,
  integrityStamp,
  loadPastBuild,
} from "../agent/search/mod.ts";
import type { EmbedderBackend } from "./embedder.ts";

const VERSION = 1;

/** One chunk's metadata in the vector store. */
export interface VectorChunk {
  path: string;
  start_line: number;
  end_line: number;
  symbol?: string;
}

/** Per-file record for incremental rebuilds. */
export interface VectorFileEntry {
  size: number;
  mtimeMs: number;
  first: number;
  count: number;
}

/** Metadata stored next to the vectors. */
export interface VectorMeta {
  version: number;
  backend: EmbedderBackend;
  model: string;
  /** Model folder used by the local backend, when given. */
  modelPath?: string;
  /** InferMesh URL used, when the backend is infermesh. */
  url?: string;
  dim: number;
  lexical: boolean;
  chunkLines: number;
  /** Chunker/tokenizer version the chunks come from (see the lexical index). */
  analyzer?: number;
  createdAt: string;
  /**
   * The files the build was asked for (`emb-index --glob/--exclude`), so a refresh embeds within them; absent
   * in an index built before 2026-12-03, which is then not refreshed by a search.
   */
  scope?: { globs?: string[]; excludes?: string[]; maxFileBytes?: number };
  files: Record<string, VectorFileEntry>;
  chunks: VectorChunk[];
}

/** A loaded vector index. */
export interface VectorIndex {
  meta: VectorMeta;
  /** `chunks.length * dim` floats. */
  vectors: Float32Array;
}

/** File locations of the vector index. */
export function vectorFiles(root: string): { dir: string; meta: string; vectors: string; jsonl: string } {
  const { indexDir: dir, embeddingMetaFile } = workspacePaths(root);
  return {
    dir,
    meta: embeddingMetaFile,
    vectors: join(dir, "emb_vectors.f32"),
    jsonl: join(dir, "emb_index.jsonl"),
  };
}

/** Saves the index (vectors first, then the meta that describes them). */
export async function saveVectorIndex(root: string, index: VectorIndex): Promise<void> {
  const f = vectorFiles(root);
  const { meta, vectors } = index;
  if (vectors.length !== meta.chunks.length * meta.dim) {
    throw new Error(`vector store: ${vectors.length} floats for ${meta.chunks.length} chunks × ${meta.dim}`);
  }
  const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  await atomicWriteFile(f.vectors, bytes);
  await atomicWriteFile(
    f.meta,
    JSON.stringify({ ...meta, version: VERSION, vectorsIntegrity: integrityStamp(bytes) }),
  );
}

/**
 * Loads the index; `null` when missing or from another version. A damaged `emb_vectors.f32` or meta
 * (length or checksum mismatch, see agent/search/index_integrity.ts) throws {@link IndexDamagedError}
 * saying to run `emb-index --full`, or with `{damaged: "null"}` prints a notice and returns null (the
 * caller rebuilds). A mismatch is loaded again a few times first (loadPastBuild): an `emb-index` in another
 * process may be between writing the vectors and writing the meta.
 */
export async function loadVectorIndex(
  root: string,
  options: { damaged?: "throw" | "null" } = {},
): Promise<VectorIndex | null> {
  const loaded = await loadPastBuild(() => loadVectorIndexOnce(root));
  if (!(loaded instanceof FilesMismatch)) return loaded;
  const f = vectorFiles(root);
  if (options.damaged === "null") {
    integrityNotice(
      f.vectors,
      `the embedding index is damaged (${loaded.message}): rebuilding it from scratch`,
    );
    return null;
  }
  throw new IndexDamagedError(f.vectors, loaded.message, "emb-index --full");
}

/** Indexes this process loaded for searching, by workspace (two at most). */
const searchCache = new LoadedWhileUnchanged<VectorIndex>(2);

/**
 * {@link loadVectorIndex} for searching: the index this process already loaded for `root` while neither of
 * its files changed (a build renames new ones into place: a new inode, size or time), else loaded from disk
 * and kept for the next search. On a 20,000-file tree the files are 60 MB (vectors, and the chunk table as
 * JSON), which a session's every vector search read, checked and parsed again. The index is shared: callers
 * only read it.
 */
export function loadVectorIndexForSearch(root: string): Promise<VectorIndex | null> {
  const f = vectorFiles(root);
  return searchCache.get(root, [f.meta, f.vectors], () => loadVectorIndex(root));
}

/** The index, null (missing or another version), or how the files do not match. */
async function loadVectorIndexOnce(root: string): Promise<VectorIndex | null | FilesMismatch> {
  const f = vectorFiles(root);
  let meta: VectorMeta & { vectorsIntegrity?: IntegrityStamp };
  let bytes: Uint8Array<ArrayBuffer>;
  let problem: string | null = null;
  try {
    bytes = await readWholeFile(f.vectors);
    const text = await Deno.readTextFile(f.meta);
    try {
      meta = JSON.parse(text);
    } catch {
      meta = undefined as never;
      problem = "its meta file emb_meta.json is not JSON";
    }
  } catch {
    return null;
  }
  if (!problem && meta.version !== VERSION) return null;
  if (!problem) {
    if (bytes.byteLength !== meta.chunks.length * meta.dim * 4) {
      problem = "wrong length for the chunks it describes";
    } else if (meta.vectorsIntegrity) {
      const why = integrityProblem(meta.vectorsIntegrity, bytes);
      if (why) problem = why;
    } else if (!allFinite(bytes)) {
      // Written before checksums: re-embedding is costly, so only refuse what cannot be vectors.
      problem = "values that are not numbers";
    }
  }
  if (problem) return new FilesMismatch(problem);
  // A view on the bytes as read, not a copy of them (a misaligned start is copied).
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return { meta, vectors: new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4) };
}

function allFinite(bytes: Uint8Array): boolean {
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  for (let i = 0; i < floats.length; i++) if (!Number.isFinite(floats[i])) return false;
  return true;
}

/** Writes the old JSONL format (one `{path, start_line, end_line, vector}` per line); returns its path. */
export async function exportJsonl(root: string, index: VectorIndex): Promise<string> {
  const f = vectorFiles(root);
  const { meta, vectors } = index;
  const lines = meta.chunks.map((c, i) =>
    JSON.stringify({
      path: c.path,
      start_line: c.start_line,
      end_line: c.end_line,
      vector: Array.from(
        vectors.subarray(i * meta.dim, (i + 1) * meta.dim),
        (x) => Math.round(x * 1e6) / 1e6,
      ),
    })
  );
  await atomicWriteFile(f.jsonl, lines.join("\n") + (lines.length ? "\n" : ""));
  return f.jsonl;
}

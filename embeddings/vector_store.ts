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
import { workspacePaths } from "../core/workspace.ts";
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
  const dir = workspacePaths(root).indexDir;
  return {
    dir,
    meta: join(dir, "emb_meta.json"),
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
  await atomicWriteFile(f.vectors, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
  await atomicWriteFile(f.meta, JSON.stringify({ ...meta, version: VERSION }));
}

/** Loads the index; `null` when missing, from another version, or torn. */
export async function loadVectorIndex(root: string): Promise<VectorIndex | null> {
  const f = vectorFiles(root);
  let meta: VectorMeta;
  let bytes: Uint8Array;
  try {
    meta = JSON.parse(await Deno.readTextFile(f.meta));
    bytes = await Deno.readFile(f.vectors);
  } catch {
    return null;
  }
  if (meta.version !== VERSION || bytes.byteLength !== meta.chunks.length * meta.dim * 4) return null;
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return { meta, vectors: new Float32Array(buf) };
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

/**
 * The workspace's vector store for streamed records (`.dspy_index/embed_store/`): Float32 shards plus
 * JSONL metadata, one model per store, upsert by `doc_id`.
 *
 * Layout: each writer (one `embed worker` process) appends to its own shards, `seg-<writer>-<n>.f32`
 * (vectors, little-endian Float32, row after row) and `seg-<writer>-<n>.jsonl` (a header line
 * `{"store":1, "model", "backend", "dim", ...}`, then one line per row `{"d": doc_id, "t": text (first
 * 1000 chars), "p": topic, "k": kafka_ts, "e": embedded_ts}`). Writers never touch another writer's files,
 * so several processes (N workers of a Kafka group) write one store without locks. A batch is written
 * vectors first, then its metadata lines: a process killed mid-write leaves at most a torn tail, which
 * readers ignore (a row counts only when its line is complete and its vector bytes are there).
 *
 * Upsert: readers keep the newest row of each `doc_id` (by `embedded_ts`, then write order), so writing a
 * record again — a redelivery after a crash, a replay — replaces it; {@link compactStore} rewrites the
 * live rows into one shard and drops the superseded ones. A store holds one model and dimension; writing
 * or searching with another is a {@link StoreMismatchError}, never a silent mix.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { readWholeFile } from "../core/read_whole.ts";
import { workspacePaths } from "../core/workspace.ts";
import type { EmbedderBackend } from "./embedder.ts";

const STORE_VERSION = 1;
/** Rows per shard before a writer starts the next one. */
const SHARD_ROWS = 65_536;
/** Characters of the text kept with each record (for search results). */
export const STORED_TEXT_CHARS = 1000;

/** The store's folder in a workspace. */
export function storeDir(root: string): string {
  return join(workspacePaths(root).indexDir, "embed_store");
}

/** What a shard header records. */
export interface StoreHeader {
  store: number;
  model: string;
  backend: EmbedderBackend;
  dim: number;
  normalized: boolean;
  /** Local model folder, when the backend is local and one was given. */
  modelPath?: string;
  /** InferMesh URL, when the backend is infermesh. */
  url?: string;
  writer: string;
  created: string;
}

/** A record to write. */
export interface StoreRecordInput {
  doc_id: string;
  text: string;
  vector: Float32Array;
  topic?: string | null;
  kafka_ts?: number | null;
  /** Seconds since the epoch (default now). */
  embedded_ts?: number;
}

/** A stored record's metadata. */
export interface StoredRecord {
  doc_id: string;
  text: string;
  topic: string | null;
  kafka_ts: number | null;
  embedded_ts: number;
}

/** The store loaded for search. */
export interface LoadedStore {
  header: Omit<StoreHeader, "writer" | "created">;
  records: StoredRecord[];
  /** `records.length * dim` floats, row `i` is `records[i]`. */
  vectors: Float32Array;
  /** Physical rows read (superseded ones included). */
  rows: number;
  shards: number;
  bytes: number;
}

/** A store holds another model or dimension than the one asked for. */
export class StoreMismatchError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "StoreMismatchError";
  }
}

interface ShardFiles {
  base: string;
  meta: string;
  vec: string;
}

async function listShards(dir: string): Promise<ShardFiles[]> {
  const out: ShardFiles[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.startsWith("seg-") || !e.name.endsWith(".jsonl")) continue;
      const base = e.name.slice(0, -".jsonl".length);
      out.push({ base, meta: join(dir, e.name), vec: join(dir, base + ".f32") });
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort((a, b) => a.base.localeCompare(b.base));
}

async function readHeader(file: string): Promise<StoreHeader | null> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(file);
  } catch {
    return null;
  }
  try {
    const buf = new Uint8Array(4096);
    const n = await f.read(buf);
    if (!n) return null;
    const text = new TextDecoder().decode(buf.subarray(0, n));
    const nl = text.indexOf("\n");
    if (nl < 0) return null;
    const h = JSON.parse(text.slice(0, nl));
    return h?.store === STORE_VERSION ? h : null;
  } catch {
    return null;
  } finally {
    f.close();
  }
}

/** The model, backend and dimension of an existing store, or null when it is empty. */
export async function storeHeader(root: string): Promise<StoreHeader | null> {
  for (const s of await listShards(storeDir(root))) {
    const h = await readHeader(s.meta);
    if (h) return h;
  }
  return null;
}

function describe(h: Pick<StoreHeader, "model" | "dim">): string {
  return `model '${h.model}' (${h.dim} dimensions)`;
}

/** Checks that `model` (and `dim` when known) match the store; throws {@link StoreMismatchError}. */
export async function checkStoreModel(root: string, model: string, dim?: number): Promise<void> {
  const h = await storeHeader(root);
  if (!h) return;
  if (h.model !== model || (dim !== undefined && h.dim !== dim)) {
    const asked = dim === undefined ? `model '${model}'` : describe({ model, dim });
    const use = h.backend === "hash"
      ? `--backend hash --dim ${h.dim}`
      : `--backend ${h.backend} --model ${h.modelPath ?? h.model}`;
    throw new StoreMismatchError(
      `the vector store ${storeDir(root)} holds ${describe(h)}, not ${asked}: write it with the store's ` +
        `model (${use}), or move the folder away to start a new store with this model`,
    );
  }
}

/** Writes everything, synchronously: a batch is tens of KB into the page cache, and a synchronous write
 * skips the blocking-pool round trip that made the worker wait on every batch. */
function writeAll(f: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
}

/** Options for {@link openStoreWriter}. */
export interface StoreWriterOptions {
  model: string;
  backend: EmbedderBackend;
  normalized?: boolean;
  modelPath?: string;
  url?: string;
  /** `fdatasync` after each batch (default env `EMBED_STORE_FSYNC=1`, else off: safe against process crashes). */
  fsync?: boolean;
}

/** Appends records to the store (one per process). */
export interface StoreWriter {
  /** Writes a batch (vectors, then metadata). Throws {@link StoreMismatchError} on a dimension mismatch. */
  upsert(records: StoreRecordInput[]): Promise<void>;
  /** Rows written by this writer. */
  readonly written: number;
  close(): void;
}

/**
 * Opens a writer for a workspace's store; refuses a store that holds another model.
 *
 * @example
 * ```ts
 * const w = await openStoreWriter(root, { model: "hash-256", backend: "hash" });
 * await w.upsert([{ doc_id: "a", text: "hello", vector }]);
 * w.close();
 * ```
 */
export async function openStoreWriter(root: string, options: StoreWriterOptions): Promise<StoreWriter> {
  await checkStoreModel(root, options.model);
  const dir = storeDir(root);
  await Deno.mkdir(dir, { recursive: true });
  const writerId = `${Date.now().toString(36)}${Deno.pid.toString(36)}${
    crypto.getRandomValues(new Uint8Array(3)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "")
  }`;
  const fsync = options.fsync ?? Deno.env.get("EMBED_STORE_FSYNC") === "1";
  let shardNo = 0;
  let rowsInShard = 0;
  let written = 0;
  let dim: number | undefined;
  let files: { meta: Deno.FsFile; vec: Deno.FsFile } | null = null;
  const enc = new TextEncoder();

  const openShard = async () => {
    files?.meta.close();
    files?.vec.close();
    shardNo++;
    const base = join(dir, `seg-${writerId}-${String(shardNo).padStart(4, "0")}`);
    const header: StoreHeader = {
      store: STORE_VERSION,
      model: options.model,
      backend: options.backend,
      dim: dim!,
      normalized: options.normalized ?? false,
      ...(options.modelPath ? { modelPath: options.modelPath } : {}),
      ...(options.url ? { url: options.url } : {}),
      writer: writerId,
      created: new Date().toISOString(),
    };
    const vec = await Deno.open(base + ".f32", { create: true, append: true });
    const meta = await Deno.open(base + ".jsonl", { create: true, append: true });
    writeAll(meta, enc.encode(JSON.stringify(header) + "\n"));
    files = { meta, vec };
    rowsInShard = 0;
  };

  return {
    async upsert(records) {
      if (records.length === 0) return;
      if (dim === undefined) {
        dim = records[0].vector.length;
        await checkStoreModel(root, options.model, dim);
      }
      const vecBytes = new Uint8Array(records.length * dim * 4);
      const floats = new Float32Array(vecBytes.buffer);
      const now = Date.now() / 1000;
      let lines = "";
      records.forEach((r, i) => {
        if (r.vector.length !== dim) {
          throw new StoreMismatchError(
            `record '${r.doc_id}' has a ${r.vector.length}-dimensional vector; this store holds ${dim} dimensions`,
          );
        }
        floats.set(r.vector, i * dim!);
        lines += JSON.stringify({
          d: r.doc_id,
          t: r.text.length > STORED_TEXT_CHARS ? r.text.slice(0, STORED_TEXT_CHARS) : r.text,
          p: r.topic ?? null,
          k: r.kafka_ts ?? null,
          e: r.embedded_ts ?? now,
        }) + "\n";
      });
      if (files === null || rowsInShard >= SHARD_ROWS) await openShard();
      const f = files!;
      try {
        writeAll(f.vec, vecBytes);
        if (fsync) await f.vec.syncData();
        writeAll(f.meta, enc.encode(lines));
        if (fsync) await f.meta.syncData();
      } catch (err) {
        files = null; // a failed write leaves a torn tail: continue in a fresh shard
        throw err;
      }
      rowsInShard += records.length;
      written += records.length;
    },
    get written() {
      return written;
    },
    close() {
      files?.meta.close();
      files?.vec.close();
      files = null;
    },
  };
}

/** Reads every shard and keeps the newest row per `doc_id`; null when the store is empty. */
export async function loadStore(root: string): Promise<LoadedStore | null> {
  const shards = await listShards(storeDir(root));
  let header: StoreHeader | null = null;
  const parts: { recs: StoredRecord[]; vec: Float32Array }[] = [];
  let bytes = 0;
  for (const s of shards) {
    let metaText: string;
    let vecBytes: Uint8Array;
    try {
      metaText = await Deno.readTextFile(s.meta);
      vecBytes = await readWholeFile(s.vec);
    } catch {
      continue; // removed by a compaction in progress
    }
    bytes += metaText.length + vecBytes.byteLength;
    const lines = metaText.split("\n");
    lines.pop(); // the part after the last newline is empty or a torn line
    if (lines.length === 0) continue;
    let h: StoreHeader;
    try {
      h = JSON.parse(lines[0]);
    } catch {
      continue;
    }
    if (h.store !== STORE_VERSION) continue;
    if (!header) header = h;
    else if (h.model !== header.model || h.dim !== header.dim) {
      throw new StoreMismatchError(
        `the vector store ${storeDir(root)} mixes ${describe(header)} and ${
          describe(h)
        } (shard ${s.base}): ` +
          `move one of them away`,
      );
    }
    const maxRows = Math.floor(vecBytes.byteLength / (4 * h.dim));
    const recs: StoredRecord[] = [];
    for (let i = 1; i < lines.length && recs.length < maxRows; i++) {
      let r: { d: string; t: string; p: string | null; k: number | null; e: number };
      try {
        r = JSON.parse(lines[i]);
      } catch {
        break; // torn
      }
      recs.push({ doc_id: r.d, text: r.t, topic: r.p, kafka_ts: r.k, embedded_ts: r.e });
    }
    const aligned = vecBytes.byteOffset % 4 === 0 ? vecBytes : vecBytes.slice();
    parts.push({ recs, vec: new Float32Array(aligned.buffer, aligned.byteOffset, recs.length * h.dim) });
  }
  if (!header) return null;
  const dim = header.dim;
  // Newest row per doc_id.
  const best = new Map<string, { part: number; row: number; ts: number }>();
  let rows = 0;
  parts.forEach((p, pi) => {
    rows += p.recs.length;
    p.recs.forEach((r, ri) => {
      const prev = best.get(r.doc_id);
      if (!prev || r.embedded_ts >= prev.ts) best.set(r.doc_id, { part: pi, row: ri, ts: r.embedded_ts });
    });
  });
  const records: StoredRecord[] = new Array(best.size);
  const vectors = new Float32Array(best.size * dim);
  let i = 0;
  for (const { part, row } of best.values()) {
    records[i] = parts[part].recs[row];
    vectors.set(parts[part].vec.subarray(row * dim, (row + 1) * dim), i * dim);
    i++;
  }
  const { writer: _w, created: _c, ...rest } = header;
  return { header: rest, records, vectors, rows, shards: parts.length, bytes };
}

/** `embed stats --json`. */
export interface StoreStats {
  total: number;
  models: Record<string, { count: number; dim: number }>;
  bytes: number;
  /** Physical rows (superseded ones included) and shard files. */
  rows: number;
  shards: number;
  dir: string;
}

/** Counts the store: records per model, dimensions, size on disk. */
export async function storeStats(root: string): Promise<StoreStats> {
  const s = await loadStore(root);
  const dir = storeDir(root);
  if (!s) return { total: 0, models: {}, bytes: 0, rows: 0, shards: 0, dir };
  return {
    total: s.records.length,
    models: { [s.header.model]: { count: s.records.length, dim: s.header.dim } },
    bytes: s.bytes,
    rows: s.rows,
    shards: s.shards,
    dir,
  };
}

/** One k-NN hit. */
export interface KnnHit {
  doc_id: string;
  score: number;
  text: string;
  model: string;
  topic: string | null;
}

/** Cosine top-k of `query` over a loaded store. */
export function knn(store: LoadedStore, query: Float32Array, k: number, snippetChars = 240): KnnHit[] {
  const dim = store.header.dim;
  if (query.length !== dim) {
    throw new StoreMismatchError(
      `the query vector has ${query.length} dimensions but the store holds ${dim}: ` +
        `search with the store's model '${store.header.model}'`,
    );
  }
  let qn = 0;
  for (let j = 0; j < dim; j++) qn += query[j] * query[j];
  qn = Math.sqrt(qn) || 1;
  const top: [number, number][] = [];
  const v = store.vectors;
  for (let r = 0; r < store.records.length; r++) {
    let dot = 0;
    let vn = 0;
    const off = r * dim;
    for (let j = 0; j < dim; j++) {
      const x = v[off + j];
      dot += x * query[j];
      vn += x * x;
    }
    const s = vn === 0 ? 0 : dot / (qn * Math.sqrt(vn));
    if (top.length < k) {
      top.push([r, s]);
      top.sort((a, b) => b[1] - a[1]);
    } else if (s > top[k - 1][1]) {
      top[k - 1] = [r, s];
      top.sort((a, b) => b[1] - a[1]);
    }
  }
  return top.map(([r, s]) => {
    const rec = store.records[r];
    return {
      doc_id: rec.doc_id,
      score: Math.round(s * 10000) / 10000,
      text: rec.text.length > snippetChars ? rec.text.slice(0, snippetChars) + "…" : rec.text,
      model: store.header.model,
      topic: rec.topic,
    };
  });
}

/**
 * Rewrites the live rows (newest per `doc_id`) into one shard and removes the others. Run it while no
 * worker writes to the store (`embed worker` stopped); returns the rows dropped.
 */
export async function compactStore(root: string): Promise<number> {
  const before = await listShards(storeDir(root));
  const s = await loadStore(root);
  if (!s) return 0;
  const w = await openStoreWriter(root, {
    model: s.header.model,
    backend: s.header.backend,
    normalized: s.header.normalized,
    modelPath: s.header.modelPath,
    url: s.header.url,
    fsync: true,
  });
  const dim = s.header.dim;
  for (let i = 0; i < s.records.length; i += 4096) {
    await w.upsert(
      s.records.slice(i, i + 4096).map((r, j) => ({
        ...r,
        vector: s.vectors.subarray((i + j) * dim, (i + j + 1) * dim),
      })),
    );
  }
  w.close();
  for (const f of before) {
    await Deno.remove(f.meta).catch(() => {});
    await Deno.remove(f.vec).catch(() => {});
  }
  return s.rows - s.records.length;
}

/**
 * The embed worker's "embed and store" step for a model on its own thread: the cache look-up, the model call
 * for the texts the cache lacks, the cache update and the store write of one batch, all where the model
 * runs (`local_embed_thread.ts`). The worker's main thread then only consumes, parses, hands the batch over
 * and acknowledges and commits it when the thread says it is stored: on a machine without an idle core its
 * main thread was the bottleneck, and the cache and the store write were a third of its work per record.
 *
 * The rules are the worker's own (worker.ts): the cache is keyed by {@link cacheSlot}; a batch whose model
 * call fails stores only its cached records and names the others, which the worker dead-letters; nothing is
 * acknowledged before the thread has written it.
 *
 * @module
 */

import { cacheSlot, VectorCache } from "./lru_cache.ts";
import { normalize as normalizeVector } from "./embedder.ts";
import { openStoreWriter, type StoreRecordInput, type StoreWriter } from "./store.ts";
import type { EmbedderBackend } from "./embedder.ts";

/** How to open the sink (the worker's store and cache settings). */
export interface StoreSinkOptions {
  workspace: string;
  model: string;
  backend: EmbedderBackend;
  /** Recorded in the store header. */
  normalized: boolean;
  modelPath?: string;
  /** L2-normalise vectors before storing (`EMBED_NORMALIZE`). */
  normalize: boolean;
  cacheMax: number;
  cacheTtlSec: number;
}

/** One batch, as parallel arrays (cheap to send to a thread). */
export interface StoreSinkBatch {
  texts: string[];
  docIds: string[];
  topics: string[];
  kafkaTs: number[];
  /** Send the stored vectors back (for output records). */
  wantVectors: boolean;
}

/** What became of a batch. */
export interface StoreSinkResult {
  /** Records served from the cache. */
  hits: number;
  /** Indexes (into the batch) of the records not stored because the model call failed. */
  failed: number[];
  /** The model call's error, when it failed. */
  error: string | null;
  /** Milliseconds of the model call (0 when the cache had everything). */
  rttMs: number;
  /** When the store write failed (the worker stops): the error's name and message. */
  fatal?: { name: string; message: string };
  /** `embedded_ts` written for the stored records. */
  embeddedTs: number;
  /** With `wantVectors`: every record's vector, row after row (rows of failed records are zero). */
  vectors?: Float32Array;
  dim: number;
}

/** The step, given the model call. */
export interface StoreSink {
  process(batch: StoreSinkBatch): Promise<StoreSinkResult>;
  close(): void;
}

/** Opens the store writer and the cache; `embed` is the model call (one vector per text, in order). */
export async function openStoreSink(
  options: StoreSinkOptions,
  embed: (texts: string[]) => Promise<Float32Array[]>,
): Promise<StoreSink> {
  const store: StoreWriter = await openStoreWriter(options.workspace, {
    model: options.model,
    backend: options.backend,
    normalized: options.normalized,
    modelPath: options.modelPath,
  });
  const cache = new VectorCache(options.cacheMax, options.cacheTtlSec);
  return {
    async process(batch) {
      const n = batch.texts.length;
      const vecs: (Float32Array | undefined)[] = new Array(n);
      const slots: [string, string][] = new Array(n);
      const todo: number[] = [];
      let hits = 0;
      for (let i = 0; i < n; i++) {
        slots[i] = cacheSlot(options.model, batch.texts[i]);
        vecs[i] = cache.get(slots[i][0], slots[i][1]);
        if (vecs[i]) hits++;
        else todo.push(i);
      }
      let error: string | null = null;
      let rttMs = 0;
      if (todo.length > 0) {
        const started = performance.now();
        try {
          const out = await embed(todo.map((i) => batch.texts[i]));
          if (out.length !== todo.length) {
            throw new Error(`the embedder returned ${out.length} vectors for ${todo.length} texts`);
          }
          if (out.some((v) => v.length === 0)) throw new Error("the embedder returned an empty vector");
          todo.forEach((i, k) => {
            vecs[i] = options.normalize ? normalizeVector(out[k]) : out[k];
            cache.set(slots[i][0], slots[i][1], vecs[i]!);
          });
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        rttMs = Math.round((performance.now() - started) * 100) / 100;
      }
      const embeddedTs = Date.now() / 1000;
      const records: StoreRecordInput[] = [];
      for (let i = 0; i < n; i++) {
        const vector = vecs[i];
        if (vector === undefined) continue;
        records.push({
          doc_id: batch.docIds[i],
          text: batch.texts[i],
          vector,
          topic: batch.topics[i],
          kafka_ts: batch.kafkaTs[i],
          embedded_ts: embeddedTs,
        });
      }
      const failed = error === null ? [] : todo;
      const dim = records[0]?.vector.length ?? 0;
      try {
        await store.upsert(records);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        return { hits, failed, error, rttMs, embeddedTs, dim, fatal: { name: e.name, message: e.message } };
      }
      let vectors: Float32Array | undefined;
      if (batch.wantVectors && dim > 0) {
        vectors = new Float32Array(n * dim);
        vecs.forEach((v, i) => v && vectors!.set(v, i * dim));
      }
      return { hits, failed, error, rttMs, embeddedTs, dim, vectors };
    },
    close() {
      store.close();
    },
  };
}

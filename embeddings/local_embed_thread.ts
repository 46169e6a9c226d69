/**
 * The model thread: a Worker that loads a model on our own path (`onnx_encoder.ts`) and embeds the texts
 * its host sends. onnxruntime-node's `session.run` is synchronous on the thread that calls it, so an
 * embedder running on the main thread stops everything else there (consuming, parsing, storing,
 * committing, answering HTTP) for the whole model call; here the call runs beside them, on another core
 * when there is one. Tokenizing and pooling run here too, so the host only posts texts and receives one
 * `Float32Array` per call. For the embed worker the thread can also own the cache and the store writer
 * (`store_sink.ts`): then a batch's texts go in and "stored" comes back.
 *
 * Messages in: `{type: "load", options}`, `{type: "embed", id, texts}`, `{type: "open-sink", id, options}`,
 * `{type: "batch", id, batch}`, `{type: "close-sink", id}`, `{type: "dispose"}`.
 * Messages out: `{type: "loaded"}`, `{type: "unsupported", reason}`, `{type: "vectors", id, data, rows,
 * dim}`, `{type: "done", id, result?}`, `{type: "error", id?, message}`, `{type: "disposed"}`.
 *
 * @module
 */

import { loadOnnxEncoder, type OnnxEncoder, type OnnxEncoderOptions } from "./onnx_encoder.ts";
import { openStoreSink, type StoreSink, type StoreSinkBatch, type StoreSinkOptions } from "./store_sink.ts";
import type { StoreSinkResult } from "./store_sink.ts";

/** What the host sends. */
export type ModelThreadRequest =
  | { type: "load"; options: OnnxEncoderOptions }
  | { type: "embed"; id: number; texts: string[] }
  | { type: "open-sink"; id: number; options: StoreSinkOptions }
  | { type: "batch"; id: number; batch: StoreSinkBatch }
  | { type: "close-sink"; id: number }
  | { type: "dispose" };

/** What the thread answers. */
export type ModelThreadReply =
  | { type: "loaded" }
  | { type: "unsupported"; reason: string }
  | { type: "vectors"; id: number; data: Float32Array; rows: number; dim: number }
  | { type: "done"; id: number; result?: StoreSinkResult }
  | { type: "error"; id?: number; message: string }
  | { type: "disposed" };

interface WorkerScope {
  onmessage: ((e: MessageEvent<ModelThreadRequest>) => void) | null;
  postMessage(msg: ModelThreadReply): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let encoder: OnnxEncoder | null = null;
let sink: StoreSink | null = null;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The model call, one vector per text (views of the call's array). */
async function embedRows(texts: string[]): Promise<Float32Array[]> {
  if (!encoder) throw new Error("the model thread has no model loaded");
  const v = await encoder.embed(texts);
  return Array.from({ length: v.rows }, (_, r) => v.data.subarray(r * v.dim, (r + 1) * v.dim));
}

// Requests are handled one after another, in the order they came: a batch is stored before the next one
// starts, and replies go out in order.
let queue: Promise<void> = Promise.resolve();

async function handle(req: ModelThreadRequest): Promise<void> {
  if (req.type === "embed") {
    try {
      if (!encoder) throw new Error("the model thread has no model loaded");
      const v = await encoder.embed(req.texts);
      // Copied, not transferred: Deno's transfer of a small buffer costs more than copying it.
      scope.postMessage({ type: "vectors", id: req.id, data: v.data, rows: v.rows, dim: v.dim });
    } catch (err) {
      scope.postMessage({ type: "error", id: req.id, message: message(err) });
    }
  } else if (req.type === "batch") {
    try {
      if (!sink) throw new Error("the model thread has no store open");
      scope.postMessage({ type: "done", id: req.id, result: await sink.process(req.batch) });
    } catch (err) {
      scope.postMessage({ type: "error", id: req.id, message: message(err) });
    }
  } else if (req.type === "open-sink") {
    try {
      sink?.close();
      sink = await openStoreSink(req.options, embedRows);
      scope.postMessage({ type: "done", id: req.id });
    } catch (err) {
      scope.postMessage({ type: "error", id: req.id, message: message(err) });
    }
  } else if (req.type === "close-sink") {
    sink?.close();
    sink = null;
    scope.postMessage({ type: "done", id: req.id });
  } else if (req.type === "load") {
    try {
      const loaded = await loadOnnxEncoder(req.options);
      if (typeof loaded === "string") scope.postMessage({ type: "unsupported", reason: loaded });
      else {
        encoder = loaded;
        scope.postMessage({ type: "loaded" });
      }
    } catch (err) {
      scope.postMessage({ type: "error", message: message(err) });
    }
  } else if (req.type === "dispose") {
    sink?.close();
    sink = null;
    await encoder?.dispose().catch(() => {});
    encoder = null;
    scope.postMessage({ type: "disposed" });
    scope.close();
  }
}

scope.onmessage = (e) => {
  queue = queue.then(() => handle(e.data)).catch((err) => {
    scope.postMessage({ type: "error", message: `the model thread failed: ${message(err)}` });
  });
};

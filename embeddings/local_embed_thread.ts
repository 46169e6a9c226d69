/**
 * The model thread: a Worker that loads a model on our own path (`onnx_encoder.ts`) and embeds the texts
 * its host sends. onnxruntime-node's `session.run` is synchronous on the thread that calls it, so an
 * embedder running on the main thread stops everything else there (consuming, parsing, storing,
 * committing, answering HTTP) for the whole model call; here the call runs beside them, on another core
 * when there is one. Tokenizing and pooling run here too, so the host only posts texts and receives one
 * transferred `Float32Array` per call.
 *
 * Messages in: `{type: "load", options}`, `{type: "embed", id, texts}`, `{type: "dispose"}`.
 * Messages out: `{type: "loaded"}`, `{type: "unsupported", reason}`, `{type: "vectors", id, data, rows,
 * dim}`, `{type: "error", id?, message}`, `{type: "disposed"}`.
 *
 * @module
 */

import { loadOnnxEncoder, type OnnxEncoder, type OnnxEncoderOptions } from "./onnx_encoder.ts";

/** What the host sends. */
export type ModelThreadRequest =
  | { type: "load"; options: OnnxEncoderOptions }
  | { type: "embed"; id: number; texts: string[] }
  | { type: "dispose" };

/** What the thread answers. */
export type ModelThreadReply =
  | { type: "loaded" }
  | { type: "unsupported"; reason: string }
  | { type: "vectors"; id: number; data: Float32Array; rows: number; dim: number }
  | { type: "error"; id?: number; message: string }
  | { type: "disposed" };

interface WorkerScope {
  onmessage: ((e: MessageEvent<ModelThreadRequest>) => void) | null;
  postMessage(msg: ModelThreadReply, transfer?: Transferable[]): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let encoder: OnnxEncoder | null = null;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

scope.onmessage = async (e) => {
  const req = e.data;
  if (req.type === "embed") {
    try {
      if (!encoder) throw new Error("the model thread has no model loaded");
      const v = await encoder.embed(req.texts);
      // Copied, not transferred: Deno's transfer of a small buffer costs more than copying it.
      scope.postMessage({ type: "vectors", id: req.id, data: v.data, rows: v.rows, dim: v.dim });
    } catch (err) {
      scope.postMessage({ type: "error", id: req.id, message: message(err) });
    }
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
    await encoder?.dispose().catch(() => {});
    encoder = null;
    scope.postMessage({ type: "disposed" });
    scope.close();
  }
};

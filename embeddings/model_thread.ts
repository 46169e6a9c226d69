/**
 * The host side of the model thread (`local_embed_thread.ts`): {@link startModelThread} loads a model in a
 * Worker and returns an {@link OnnxEncoder} whose calls run there. Several calls may be outstanding; the
 * thread answers them in order. A thread that dies fails every outstanding call with its error, and every
 * later call at once.
 *
 * @module
 */

import type { EncodedVectors, OnnxEncoder, OnnxEncoderOptions } from "./onnx_encoder.ts";
import type { ModelThreadReply, ModelThreadRequest } from "./local_embed_thread.ts";

/**
 * Starts a model thread for `options`: the encoder, or a sentence saying why the model needs the
 * transformers.js pipeline (then the thread is already gone). Throws when the model cannot load.
 */
export function startModelThread(options: OnnxEncoderOptions): Promise<OnnxEncoder | string> {
  const worker = new Worker(new URL("./local_embed_thread.ts", import.meta.url).href, { type: "module" });
  const post = (msg: ModelThreadRequest) => worker.postMessage(msg);
  const calls = new Map<number, { resolve: (v: EncodedVectors) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  let onLoad: ((r: ModelThreadReply | Error) => void) | null = null;
  let onDisposed: (() => void) | null = null;

  const fail = (err: Error) => {
    dead ??= err;
    for (const c of calls.values()) c.reject(err);
    calls.clear();
    onLoad?.(err);
    onDisposed?.();
    worker.terminate();
  };
  worker.onmessage = (e: MessageEvent<ModelThreadReply>) => {
    const r = e.data;
    if (r.type === "vectors") {
      const c = calls.get(r.id);
      calls.delete(r.id);
      c?.resolve({ data: r.data, rows: r.rows, dim: r.dim });
    } else if (r.type === "error" && r.id !== undefined) {
      const c = calls.get(r.id);
      calls.delete(r.id);
      c?.reject(new Error(r.message));
    } else if (r.type === "disposed") {
      onDisposed?.();
    } else {
      onLoad?.(r);
    }
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    fail(new Error(`the model thread failed: ${e.message}`));
  };

  const encoder: OnnxEncoder = {
    embed(texts: string[]): Promise<EncodedVectors> {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        calls.set(id, { resolve, reject });
        post({ type: "embed", id, texts });
      });
    },
    async dispose() {
      if (dead) return;
      await new Promise<void>((resolve) => {
        onDisposed = resolve;
        post({ type: "dispose" });
      });
      dead = new Error("the model thread was disposed");
      worker.terminate();
    },
  };

  return new Promise((resolve, reject) => {
    onLoad = (r) => {
      onLoad = null;
      if (r instanceof Error) reject(r);
      else if (r.type === "loaded") resolve(encoder);
      else if (r.type === "unsupported") {
        worker.terminate();
        resolve(r.reason);
      } else if (r.type === "error") {
        worker.terminate();
        reject(new Error(r.message));
      }
    };
    post({ type: "load", options });
  });
}

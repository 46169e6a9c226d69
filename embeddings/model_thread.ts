/**
 * The host side of the model thread (`local_embed_thread.ts`): {@link startModelThread} loads a model in a
 * Worker and returns a {@link ThreadEncoder} whose calls run there. Several calls may be outstanding; the
 * thread answers them in order. A thread that dies fails every outstanding call with its error, and every
 * later call at once.
 *
 * @module
 */

import type { EncodedVectors, OnnxEncoder, OnnxEncoderOptions } from "./onnx_encoder.ts";
import type { ModelThreadReply, ModelThreadRequest } from "./local_embed_thread.ts";
import type { StoreSink, StoreSinkBatch, StoreSinkOptions, StoreSinkResult } from "./store_sink.ts";

/** An encoder on a model thread, which can also own the embed worker's cache and store writer. */
export interface ThreadEncoder extends OnnxEncoder {
  /** Opens the store writer and cache in the thread (one at a time): see `store_sink.ts`. */
  openSink(options: StoreSinkOptions): Promise<StoreSink>;
}

/**
 * Starts a model thread for `options`: the encoder, or a sentence saying why the model needs the
 * transformers.js pipeline (then the thread is already gone). Throws when the model cannot load.
 */
export function startModelThread(options: OnnxEncoderOptions): Promise<ThreadEncoder | string> {
  const worker = new Worker(new URL("./local_embed_thread.ts", import.meta.url).href, { type: "module" });
  const post = (msg: ModelThreadRequest) => worker.postMessage(msg);
  type Reply = EncodedVectors | StoreSinkResult | undefined;
  const calls = new Map<number, { resolve: (v: Reply) => void; reject: (e: Error) => void }>();
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
  const settle = (id: number, value: Reply | Error) => {
    const c = calls.get(id);
    calls.delete(id);
    if (value instanceof Error) c?.reject(value);
    else c?.resolve(value);
  };
  worker.onmessage = (e: MessageEvent<ModelThreadReply>) => {
    const r = e.data;
    if (r.type === "vectors") settle(r.id, { data: r.data, rows: r.rows, dim: r.dim });
    else if (r.type === "done") settle(r.id, r.result);
    else if (r.type === "error" && r.id !== undefined) settle(r.id, new Error(r.message));
    else if (r.type === "error" && onLoad === null) fail(new Error(r.message));
    else if (r.type === "disposed") onDisposed?.();
    else onLoad?.(r);
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    fail(new Error(`the model thread failed: ${e.message}`));
  };
  /** Sends a request that gets an id and resolves with the thread's answer. */
  const call = <T extends Reply>(make: (id: number) => ModelThreadRequest): Promise<T> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      calls.set(id, { resolve: resolve as (v: Reply) => void, reject });
      post(make(id));
    });
  };

  const encoder: ThreadEncoder = {
    embed: (texts: string[]) => call<EncodedVectors>((id) => ({ type: "embed", id, texts })),
    async openSink(sinkOptions) {
      await call((id) => ({ type: "open-sink", id, options: sinkOptions }));
      return {
        process: (batch: StoreSinkBatch) => call<StoreSinkResult>((id) => ({ type: "batch", id, batch })),
        close: () => {
          if (!dead) call((id) => ({ type: "close-sink", id })).catch(() => {});
        },
      };
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

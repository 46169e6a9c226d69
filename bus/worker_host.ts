/**
 * The entry point of a bus worker (a Deno Worker). It imports the user's module, which must export
 * `handle(message)` (sync or async), then handles batches posted by the main thread and replies with one
 * result per message: `null` on success, the error message on failure. An error that escapes `handle`
 * (e.g. thrown from a timer) crashes the worker; the main thread then redelivers its batch to the others.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { BusMessage } from "./types.ts";

type Handle = (message: BusMessage) => unknown;

let handle: Handle | null = null;

self.onmessage = async (event: MessageEvent) => {
  const data = event.data as { type: "init"; url: string } | {
    type: "batch";
    id: number;
    msgs: BusMessage[];
  };
  if (data.type === "init") {
    try {
      const mod = await import(data.url);
      if (typeof mod.handle !== "function") {
        self.postMessage({
          type: "init_error",
          error: `${data.url} does not export a function 'handle(message)'`,
        });
        return;
      }
      handle = mod.handle as Handle;
      self.postMessage({ type: "ready" });
    } catch (err) {
      self.postMessage({ type: "init_error", error: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  const results: (string | null)[] = new Array(data.msgs.length);
  for (let i = 0; i < data.msgs.length; i++) {
    try {
      const r = handle!(data.msgs[i]);
      if (r instanceof Promise) await r;
      results[i] = null;
    } catch (err) {
      results[i] = err instanceof Error ? err.message : String(err);
    }
  }
  self.postMessage({ type: "done", id: data.id, results });
};

/**
 * Worker entry point that runs {@link trainPufferPolicy} off the main thread for the CLI: it receives the
 * (JSON) training options, posts every log entry, and posts the result (without the network object) or
 * the error. A `stop` message ends training at the next update boundary.
 *
 * @module
 */

import { type TrainOptions, trainPufferPolicy } from "./train.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
const stop = new AbortController();

scope.onmessage = async (e: MessageEvent) => {
  const msg = e.data as { type: string; options?: TrainOptions };
  if (msg.type === "stop") {
    stop.abort();
    return;
  }
  if (msg.type !== "train") return;
  try {
    const result = await trainPufferPolicy({
      ...msg.options,
      signal: stop.signal,
      onLog: (entry) => scope.postMessage({ type: "log", entry }),
    });
    const { policy: _policy, ...rest } = result;
    scope.postMessage({ type: "done", result: rest });
  } catch (err) {
    scope.postMessage({
      type: "error",
      name: err instanceof Error ? err.name : "Error",
      message: err instanceof Error ? err.message : String(err),
    });
  }
};

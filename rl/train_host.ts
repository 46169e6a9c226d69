/**
 * Runs a training job in a Worker so the calling thread (the CLI's event loop: progress bar, events,
 * Ctrl-C) stays responsive while the learner computes. The options must be JSON-serialisable (name the
 * env by built-in name or module spec).
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { TrainLogEntry, TrainOptions, TrainResult } from "./train.ts";

/** Options that can cross into a Worker (no functions). */
export type WorkerTrainOptions = Omit<TrainOptions, "makeEnv" | "onLog" | "signal">;

/** The result without the in-memory network. */
export type WorkerTrainResult = Omit<TrainResult, "policy">;

/**
 * Trains in a Worker. `signal` asks the learner to stop at the next update (it still checkpoints and
 * returns); a crash of the worker rejects with its message.
 */
export function trainInWorker(
  options: WorkerTrainOptions,
  hooks: { onLog?: (entry: TrainLogEntry) => void; signal?: AbortSignal } = {},
): Promise<WorkerTrainResult> {
  const worker = new Worker(new URL("./train_worker.ts", import.meta.url).href, { type: "module" });
  return new Promise<WorkerTrainResult>((resolve, reject) => {
    const onAbort = () => worker.postMessage({ type: "stop" });
    const finish = () => {
      hooks.signal?.removeEventListener("abort", onAbort);
      worker.terminate();
    };
    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    worker.onmessage = (e: MessageEvent) => {
      const msg = e.data as {
        type: string;
        entry?: TrainLogEntry;
        result?: WorkerTrainResult;
        message?: string;
        name?: string;
      };
      if (msg.type === "log") hooks.onLog?.(msg.entry!);
      else if (msg.type === "done") {
        finish();
        resolve(msg.result!);
      } else if (msg.type === "error") {
        finish();
        reject(
          msg.name === "UserError" || msg.name === "UsageError" || msg.name === "EnvWorkerError"
            ? new UserError(msg.message!)
            : new Error(`training failed: ${msg.message}`),
        );
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      finish();
      reject(new Error(`the training worker crashed: ${e.message}`));
    };
    worker.postMessage({ type: "train", options });
    if (hooks.signal?.aborted) onAbort();
  });
}

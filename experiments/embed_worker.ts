/**
 * The Worker that runs one `embed` experiment (or one sweep cell) off the main thread: it loads the
 * dataset, creates the embedder, embeds in batches of `batch_size`, times each batch, optionally writes the
 * vectors to the vector store, and posts progress, log lines and the final metrics to its host
 * (`embed_run.ts`). A batch that fails is logged and counted (`failures`), and the run goes on; the host
 * decides the end status. Cancelling terminates the Worker.
 *
 * Messages out: `{type: "start"|"progress"|"log"|"done"|"error", ...}`.
 *
 * @module
 */

import { createEmbedder, normalize, openStoreWriter, type StoreWriter } from "../embeddings/mod.ts";
import { loadDataset } from "./dataset.ts";
import { computeEmbedMetrics } from "./metrics.ts";
import { resolve } from "../core/path.ts";
import type { EmbedParams } from "./types.ts";

/** What the host sends. */
export interface EmbedWorkerRequest {
  type: "run";
  workspace: string;
  id: string;
  params: EmbedParams;
}

interface WorkerScope {
  onmessage: ((e: MessageEvent<EmbedWorkerRequest>) => void) | null;
  postMessage(msg: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
const post = (msg: Record<string, unknown>) => scope.postMessage(msg);

/**
 * transformers.js takes a Worker for a browser: its bundled web runtime resolves a URL against
 * `location.origin` at import, which is the string "null" for a file: Worker, and the import throws. This
 * Worker is not a browser, so it hides `location` before the import; transformers.js then sees Node
 * and uses onnxruntime-node, the native CPU runtime the main thread uses.
 */
function useNativeOnnx(): void {
  Object.defineProperty(globalThis, "location", { value: undefined, configurable: true });
}

async function run(req: EmbedWorkerRequest): Promise<void> {
  const { params, workspace } = req;
  const data = await loadDataset(workspace, params.dataset_path, { maxCount: params.max_count });
  if (data.texts.length === 0) {
    throw Object.assign(new Error(`no texts loaded from ${params.dataset_path}`), { user: true });
  }
  if (params.backend === "local") useNativeOnnx();
  const hashDim = params.backend === "hash"
    ? Number(/^hash-(\d+)$/.exec(params.model ?? "")?.[1] ?? 256)
    : undefined;
  const embedder = await createEmbedder({
    backend: params.backend,
    model: params.backend === "hash" ? undefined : params.model,
    modelPath: params.model_path ? resolve(workspace, params.model_path) : undefined,
    url: params.infermesh_url,
    dim: hashDim,
    batchSize: params.batch_size,
  });
  const total = data.texts.length;
  post({ type: "start", total, skipped: data.skipped, model: embedder.model, backend: embedder.backend });
  let writer: StoreWriter | null = null;
  const latencies: number[] = [];
  let failures = 0;
  let failedBatches = 0;
  let done = 0;
  let dims: number | null = null;
  let lastError: string | null = null;
  let lastLog = performance.now();
  const t0 = performance.now();
  try {
    for (let i = 0; i < total; i += params.batch_size) {
      const batch = data.texts.slice(i, i + params.batch_size);
      const b0 = performance.now();
      try {
        const vectors = await embedder.embed(batch, { kind: "document" });
        if (vectors.length !== batch.length) {
          throw new Error(`the embedder returned ${vectors.length} vectors for ${batch.length} texts`);
        }
        if (params.normalize) { for (const v of vectors) normalize(v); }
        dims ??= vectors[0]?.length ?? null;
        if (params.store) {
          writer ??= await openStoreWriter(workspace, {
            model: embedder.model,
            backend: embedder.backend,
            normalized: params.normalize,
            modelPath: params.model_path ? resolve(workspace, params.model_path) : undefined,
            url: params.infermesh_url,
          });
          await writer.upsert(
            vectors.map((vector, k) => ({
              doc_id: `${params.dataset_path}#${i + k}`,
              text: batch[k],
              vector,
            })),
          );
        }
        latencies.push(performance.now() - b0);
      } catch (err) {
        failures += batch.length;
        failedBatches++;
        lastError = err instanceof Error ? err.message : String(err);
        post({
          type: "log",
          line: `[error] batch at offset=${i} (${batch.length} texts) failed: ${lastError}`,
        });
      }
      done += batch.length;
      const elapsed = (performance.now() - t0) / 1000;
      post({ type: "progress", done, total, failures, rate: (done - failures) / Math.max(elapsed, 1e-9) });
      if (performance.now() - lastLog > 1000 && done < total) {
        lastLog = performance.now();
        post({
          type: "log",
          line: `[progress] ${done}/${total} texts, ${((done - failures) / elapsed).toFixed(1)} texts/s`,
        });
      }
    }
  } finally {
    writer?.close();
    await embedder.dispose().catch(() => {});
  }
  const seconds = (performance.now() - t0) / 1000;
  post({
    type: "done",
    metrics: {
      ...computeEmbedMetrics({ texts: total, failures, seconds, latenciesMs: latencies }),
      batches: latencies.length + failedBatches,
      failed_batches: failedBatches,
      dims,
      model: embedder.model,
      backend: embedder.backend,
      batch_size: params.batch_size,
      skipped_lines: data.skipped,
      stored: params.store ? total - failures : 0,
      ...(lastError ? { last_error: lastError } : {}),
    },
  });
}

scope.onmessage = (e: MessageEvent<EmbedWorkerRequest>) => {
  if (e.data?.type !== "run") return;
  run(e.data).catch((err) => {
    post({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
      user: Boolean(err?.user) || err?.name === "UserError" || err?.name === "UsageError" ||
        err?.name === "ConfinedPathError" || err?.name === "ExperimentPathError" ||
        err?.name === "InferMeshError" || err?.name === "StoreMismatchError",
    });
  });
};

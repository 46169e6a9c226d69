/**
 * The local embedding backend: transformers.js (`@huggingface/transformers`) running ONNX models on
 * onnxruntime-node, feature extraction with mean pooling and normalisation. Models are never downloaded:
 * a model is a local folder (`--model-path DIR`, holding `config.json`, `tokenizer.json` and
 * `onnx/model.onnx`) or a Hugging Face id found in a local model folder (`--model-path`, `DSPY_MODELS_DIR`,
 * `~/.cache/dspy-code/models`, or transformers.js's own cache). When none has it, the error names the model
 * and says how to provide it. transformers.js is imported lazily, only when this backend is used.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import type { Embedder } from "./embedder.ts";

/** Default model id. */
export const DEFAULT_LOCAL_MODEL = "Xenova/all-MiniLM-L6-v2";

/** Options for {@link createLocalEmbedder}. */
export interface LocalEmbedderOptions {
  /** Hugging Face id or a folder path (default `Xenova/all-MiniLM-L6-v2`). */
  model?: string;
  /** A model folder, or a folder of models (`<dir>/<org>/<name>`). */
  modelPath?: string;
  /** Texts per forward pass (default 16). */
  batchSize?: number;
  /** ONNX weight variant (default `fp32`: `onnx/model.onnx`; `q8` uses `onnx/model_quantized.onnx`). */
  dtype?: "fp32" | "fp16" | "q8" | "int8" | "uint8" | "q4";
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch {
    return false;
  }
}

async function isModelDir(p: string): Promise<boolean> {
  try {
    await Deno.stat(join(p, "config.json"));
    return true;
  } catch {
    return false;
  }
}

/** Where a model id or path resolves: the folder transformers.js should load from, split as it wants. */
export async function resolveLocalModel(
  model: string,
  modelPath?: string,
): Promise<{ root: string; id: string; dir: string } | { searched: string[] }> {
  const candidates: string[] = [];
  if (modelPath) {
    candidates.push(resolve(modelPath));
    candidates.push(join(resolve(modelPath), model));
  }
  if (model.startsWith("/") || model.startsWith(".") || (await isDir(model))) candidates.push(resolve(model));
  const envDir = Deno.env.get("DSPY_MODELS_DIR");
  if (envDir) candidates.push(join(envDir, model));
  const home = Deno.env.get("HOME");
  if (home) candidates.push(join(home, ".cache", "dspy-code", "models", model));
  const hfCache = Deno.env.get("TRANSFORMERS_CACHE");
  if (hfCache) candidates.push(join(hfCache, model));
  for (const c of candidates) {
    if (await isModelDir(c)) return { root: dirname(c), id: basename(c), dir: c };
  }
  return { searched: candidates };
}

/**
 * Creates the local embedder. Loading the model happens here, so a missing model fails early with a clear
 * error.
 *
 * @example
 * ```ts
 * const e = await createLocalEmbedder({ modelPath: "tests/fixtures/tiny-bert" });
 * const [v] = await e.embed(["retry with backoff"]);
 * await e.dispose();
 * ```
 */
export async function createLocalEmbedder(options: LocalEmbedderOptions = {}): Promise<Embedder> {
  let model = options.model ?? DEFAULT_LOCAL_MODEL;
  const found = await resolveLocalModel(model, options.modelPath);
  // `--model-path DIR` alone names the model folder itself: report that, not the default id.
  if (
    !options.model && !("searched" in found) && options.modelPath && resolve(options.modelPath) === found.dir
  ) {
    model = found.dir;
  }
  if ("searched" in found) {
    throw new UserError(
      `local embeddings: model '${model}' is not available offline (looked in: ${
        found.searched.join(", ") || "nowhere"
      }). ` +
        `Download it where there is network (e.g. 'huggingface-cli download ${model} --local-dir DIR', which ` +
        `must contain config.json, tokenizer.json and onnx/model.onnx) and pass --model-path DIR, or set ` +
        `DSPY_MODELS_DIR; or use --backend infermesh / --backend hash.`,
    );
  }
  const transformers = await import("@huggingface/transformers");
  const { env, pipeline } = transformers;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = found.root.endsWith("/") ? found.root : found.root + "/";
  let extractor: Awaited<ReturnType<typeof pipeline<"feature-extraction">>>;
  try {
    extractor = await pipeline("feature-extraction", found.id, {
      dtype: options.dtype ?? "fp32",
      device: "cpu",
    });
  } catch (err) {
    throw new UserError(
      `local embeddings: could not load '${model}' from ${found.dir}: ${
        err instanceof Error ? err.message : err
      }. ` +
        `The folder needs config.json, tokenizer.json and onnx/model.onnx (fp32).`,
    );
  }
  const batchSize = Math.max(1, options.batchSize ?? 16);
  let dim: number | undefined;
  return {
    backend: "local",
    model,
    get dim() {
      return dim;
    },
    lexical: false,
    async embed(texts: string[]): Promise<Float32Array[]> {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) {
        const batch = texts.slice(i, i + batchSize);
        const tensor = await extractor(batch, { pooling: "mean", normalize: true });
        const [rows, cols] = tensor.dims as number[];
        const data = tensor.data as Float32Array;
        dim = cols;
        for (let r = 0; r < rows; r++) out.push(Float32Array.from(data.subarray(r * cols, (r + 1) * cols)));
        tensor.dispose?.();
      }
      return out;
    },
    async dispose() {
      await extractor.dispose();
    },
  };
}

/**
 * The local embedding backend: ONNX sentence-embedding models on onnxruntime-node, mean pooling and
 * normalisation. BERT-style models (a WordPiece tokenizer, like all-MiniLM-L6-v2) run on our own path
 * (`onnx_encoder.ts`: our tokenizer, one onnxruntime session, pooling in one pass), several times faster than
 * the transformers.js pipeline and with its vectors (to 1e-5); any other model runs on the transformers.js
 * `feature-extraction` pipeline, imported lazily. `DSPY_EMBED_ENGINE=transformers` forces the pipeline.
 * Models are never downloaded: a model is a local folder (`--model-path DIR`, holding `config.json`,
 * `tokenizer.json` and `onnx/model.onnx`) or a Hugging Face id found in a local model folder
 * (`--model-path`, `DSPY_MODELS_DIR`, `~/.cache/dspy-code/models`, or transformers.js's own cache). When none
 * has it, the error names the model and says how to provide it.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import type { Embedder } from "./embedder.ts";
import { type EncodedVectors, loadOnnxEncoder, type OnnxEncoder } from "./onnx_encoder.ts";
import { startModelThread, type ThreadEncoder } from "./model_thread.ts";
import type { StoreSink, StoreSinkOptions } from "./store_sink.ts";

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
  /**
   * `fast` (our own tokenizer, onnxruntime session and pooling: `onnx_encoder.ts`), `transformers` (the
   * transformers.js pipeline), or `auto` (default: fast when the model is a plain BERT-style model, else the
   * pipeline).
   */
  engine?: "auto" | "fast" | "transformers";
  /** onnxruntime intra-op threads on the fast path (default: onnxruntime's choice, one per core). */
  threads?: number;
  /**
   * Let onnxruntime's idle intra-op threads spin on the fast path (default: `DSPY_EMBED_SPIN`, else false).
   * Spinning threads take a core from the caller's own work between model calls; `embed serve`, whose work
   * is the model, keeps them spinning (see docs/embeddings.md, "Spinning").
   */
  spin?: boolean;
  /**
   * Run the model on its own thread (a Worker; fast path only). onnxruntime-node runs a model call
   * synchronously on the calling thread, so on the main thread a call stops everything else there; on a
   * model thread the caller keeps working meanwhile (the embed worker consumes, parses, stores and commits
   * while a batch is embedded). Each call then pays a message round trip (tens of microseconds), so a caller
   * that only waits for one call after another is slightly faster without it. Default false.
   */
  thread?: boolean;
}

/** The local embedder, saying which engine runs it and whether on a model thread. */
export interface LocalEmbedder extends Embedder {
  readonly engine: "fast" | "transformers";
  readonly thread: boolean;
  /**
   * On a model thread: opens the embed worker's cache and store writer in that thread, so a batch is
   * looked up, embedded and stored there (`store_sink.ts`). The embed worker uses it when it is there.
   */
  openStoreSink?(options: StoreSinkOptions): Promise<StoreSink>;
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
export async function createLocalEmbedder(options: LocalEmbedderOptions = {}): Promise<LocalEmbedder> {
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
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const engine = options.engine ?? engineFromEnv();
  if (engine !== "transformers") {
    let fast: OnnxEncoder | ThreadEncoder | string;
    const encoderOptions = {
      dir: found.dir,
      dtype: options.dtype,
      batchSize,
      threads: options.threads ?? threadsFromEnv(),
      spin: options.spin ?? embedSpinFromEnv() ?? false,
    };
    try {
      fast = options.thread ? await startModelThread(encoderOptions) : await loadOnnxEncoder(encoderOptions);
    } catch (err) {
      throw loadError(model, found.dir, err);
    }
    if (typeof fast !== "string") return fastEmbedder(model, fast, options.thread === true);
    if (engine === "fast") {
      throw new UserError(`local embeddings: '${model}' cannot run on the fast path: ${fast}`);
    }
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
    throw loadError(model, found.dir, err);
  }
  let dim: number | undefined;
  return {
    backend: "local",
    model,
    engine: "transformers",
    thread: false,
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

/** `DSPY_EMBED_ENGINE` (fast, transformers or auto): the engine when the caller does not choose one. */
function engineFromEnv(): "auto" | "fast" | "transformers" {
  const v = Deno.env.get("DSPY_EMBED_ENGINE");
  if (v === undefined || v === "" || v === "auto") return "auto";
  if (v === "fast" || v === "transformers") return v;
  throw new UserError(`DSPY_EMBED_ENGINE='${v}': use fast, transformers or auto`);
}

/** `DSPY_EMBED_THREADS`: onnxruntime intra-op threads when the caller does not choose. */
function threadsFromEnv(): number | undefined {
  const v = Deno.env.get("DSPY_EMBED_THREADS");
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`DSPY_EMBED_THREADS='${v}': use a whole number >= 1`);
  }
  return n;
}

/**
 * Whether the embed worker runs a local model on its own thread unless `EMBED_MODEL_THREAD` says: where there
 * are 2 cores or more. There it ran 1.1-1.2x the records/s of the model on the main thread, for 10-20% more CPU
 * a record (docs/embeddings.md); on one core the two threads would only take turns.
 */
export const MODEL_THREAD_BY_DEFAULT = navigator.hardwareConcurrency >= 2;

/** Whether `embed serve` lets onnxruntime's idle threads spin: `DSPY_EMBED_SPIN`, else yes (its work is the model). */
export function servedModelSpins(): boolean {
  return embedSpinFromEnv() ?? true;
}

/**
 * `DSPY_EMBED_SPIN` (1 or 0): whether onnxruntime's idle intra-op threads spin, overriding the command's own
 * default; undefined when it is not set.
 */
export function embedSpinFromEnv(): boolean | undefined {
  return parseEmbedSpin(Deno.env.get("DSPY_EMBED_SPIN"));
}

/** What a `DSPY_EMBED_SPIN` value says: true, false, or undefined when unset; anything else is an error. */
export function parseEmbedSpin(v: string | undefined): boolean | undefined {
  if (v === undefined || v === "") return undefined;
  if (v === "0" || v === "1") return v === "1";
  throw new UserError(
    `DSPY_EMBED_SPIN='${v}': use 1 (onnxruntime's threads spin while idle) or 0 (they sleep)`,
  );
}

function loadError(model: string, dir: string, err: unknown): UserError {
  return new UserError(
    `local embeddings: could not load '${model}' from ${dir}: ${err instanceof Error ? err.message : err}. ` +
      `The folder needs config.json, tokenizer.json and onnx/model.onnx (fp32).`,
  );
}

/**
 * One vector per text: views of the call's one row-major array (rows never overlap, and a call's rows are
 * used together, so nothing keeps a large buffer alive for one small row).
 */
function rowsOf(v: EncodedVectors): Float32Array[] {
  const out: Float32Array[] = new Array(v.rows);
  for (let r = 0; r < v.rows; r++) out[r] = v.data.subarray(r * v.dim, (r + 1) * v.dim);
  return out;
}

function fastEmbedder(model: string, encoder: OnnxEncoder | ThreadEncoder, thread: boolean): LocalEmbedder {
  let dim: number | undefined;
  const embedder: LocalEmbedder = {
    backend: "local",
    model,
    engine: "fast",
    thread,
    get dim() {
      return dim;
    },
    lexical: false,
    async embed(texts: string[]): Promise<Float32Array[]> {
      const v = await encoder.embed(texts);
      if (v.rows > 0) dim = v.dim;
      return rowsOf(v);
    },
    dispose: () => encoder.dispose(),
  };
  if ("openSink" in encoder) embedder.openStoreSink = (options) => encoder.openSink(options);
  return embedder;
}

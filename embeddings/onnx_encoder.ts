/**
 * Our own path from texts to sentence vectors for BERT-style ONNX models: {@link BertTokenizer} encodes a
 * batch straight into int64 tensors, onnxruntime-node runs the model, and mean pooling over the attention
 * mask and L2 normalisation happen in one pass over `last_hidden_state`. It gives the vectors of the
 * transformers.js `feature-extraction` pipeline with `pooling: "mean", normalize: true` (to 1e-5; tested in
 * tests/embeddings/fast_local_test.ts) without its per-call costs: transformers.js tokenizes through
 * generic, allocation-heavy code (arrays of token strings, `Array.concat` per special token, a BigInt per
 * id), validates and wraps every tensor, and pools through an index-arithmetic loop and a second tensor for
 * the norm. With the tiny test model those costs were more than 90% of a call.
 *
 * A call longer than `batchSize` texts is cut into model calls of texts of similar length (sorted by token
 * count), so short texts are not padded to the longest one of the whole call.
 *
 * `onnxruntime-node`'s `session.run` is synchronous on the calling thread (its binding runs the graph and
 * returns), so this module is also what the model thread (`local_embed_thread.ts`) runs.
 *
 * @module
 */

import { join } from "node:path";
import { BertTokenizer, type EncodedBatch } from "./bert_tokenizer.ts";

/** Which ONNX file a dtype loads (the names transformers.js uses). */
export const ONNX_FILES: Record<string, string> = {
  fp32: "model.onnx",
  fp16: "model_fp16.onnx",
  q8: "model_quantized.onnx",
  int8: "model_int8.onnx",
  uint8: "model_uint8.onnx",
  q4: "model_q4.onnx",
};

/** Options for {@link loadOnnxEncoder}. */
export interface OnnxEncoderOptions {
  /** The model folder (`config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/<file>`). */
  dir: string;
  /** Weight variant (default fp32). */
  dtype?: string;
  /** Texts per model call (default 16). */
  batchSize?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's own choice, one per core). */
  threads?: number;
  /**
   * Let onnxruntime's intra-op threads spin while they wait for work (onnxruntime's own default). Default
   * false: between model calls the caller parses, stores and commits, and a spinning pool thread takes a core
   * from that work (see docs/embeddings.md, "Spinning").
   */
  spin?: boolean;
}

/** Vectors of one call: `rows` unit vectors of `dim` floats, row-major. */
export interface EncodedVectors {
  data: Float32Array;
  rows: number;
  dim: number;
}

/** A loaded model on our own path. */
export interface OnnxEncoder {
  embed(texts: string[]): Promise<EncodedVectors>;
  dispose(): Promise<void>;
}

// deno-lint-ignore no-explicit-any -- onnxruntime-node's CommonJS export, typed loosely on purpose
type Ort = any;

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

/**
 * Loads the model on our own path, or returns a sentence saying why this model needs the transformers.js
 * pipeline instead (a tokenizer that is not plain BERT WordPiece, external weight files, other inputs).
 */
export async function loadOnnxEncoder(options: OnnxEncoderOptions): Promise<OnnxEncoder | string> {
  const file = ONNX_FILES[options.dtype ?? "fp32"];
  if (!file) return `dtype ${options.dtype} is not known`;
  const modelFile = join(options.dir, "onnx", file);
  let tokenizerJson: unknown;
  let tokenizerConfig: unknown;
  try {
    [tokenizerJson, tokenizerConfig] = await Promise.all([
      readJson(join(options.dir, "tokenizer.json")),
      readJson(join(options.dir, "tokenizer_config.json")),
    ]);
    await Deno.stat(modelFile);
  } catch (err) {
    return `cannot read the model files (${err instanceof Error ? err.message : err})`;
  }
  try {
    await Deno.stat(`${modelFile}_data`);
    return "the model keeps its weights in an external data file";
  } catch {
    // no external data: fine
  }
  const tokenizer = BertTokenizer.fromJson(tokenizerJson, tokenizerConfig);
  if (typeof tokenizer === "string") return tokenizer;

  const ortModule = await import("onnxruntime-node");
  const ort: Ort = (ortModule as { default?: Ort }).default ?? ortModule;
  const sessionOptions: Record<string, unknown> = { executionProviders: ["cpu"], logSeverityLevel: 3 };
  if (options.threads !== undefined && options.threads > 0) {
    sessionOptions.intraOpNumThreads = options.threads;
  }
  // onnxruntime's session config entry `session.intra_op.allow_spinning`, as onnxruntime-node takes it.
  sessionOptions.extra = { session: { intra_op: { allow_spinning: options.spin ? "1" : "0" } } };
  const session = await ort.InferenceSession.create(modelFile, sessionOptions);
  const inputs = session.inputNames as string[];
  const known = new Set(["input_ids", "attention_mask", "token_type_ids"]);
  const outputName = ["last_hidden_state", "logits", "token_embeddings"].find((n) =>
    (session.outputNames as string[]).includes(n)
  );
  const unsupported = !inputs.includes("input_ids")
    ? "the model takes no input_ids"
    : inputs.some((n) => !known.has(n))
    ? `the model takes inputs ${inputs.join(", ")}`
    : outputName === undefined
    ? `the model has no last_hidden_state output (${session.outputNames.join(", ")})`
    : null;
  if (unsupported) {
    await session.release?.();
    return unsupported;
  }
  const batchSize = Math.max(1, options.batchSize ?? 16);

  /** One model call: the batch's unit vectors, row-major. */
  const run = async (batch: EncodedBatch): Promise<EncodedVectors> => {
    const dims = [batch.rows, batch.cols];
    const feeds: Record<string, unknown> = { input_ids: new ort.Tensor("int64", batch.inputIds, dims) };
    if (inputs.includes("attention_mask")) {
      feeds.attention_mask = new ort.Tensor("int64", batch.attentionMask, dims);
    }
    if (inputs.includes("token_type_ids")) {
      feeds.token_type_ids = new ort.Tensor("int64", batch.tokenTypeIds, dims);
    }
    const result = await session.run(feeds);
    const hidden = result[outputName!];
    const [rows, seq, dim] = hidden.dims as number[];
    if (hidden.type !== "float32" || rows !== batch.rows || seq !== batch.cols) {
      throw new Error(`unexpected model output ${hidden.type} [${hidden.dims}]`);
    }
    return { data: meanPoolNormalize(hidden.data as Float32Array, batch, dim), rows, dim };
  };

  return {
    async embed(texts: string[]): Promise<EncodedVectors> {
      if (texts.length === 0) return { data: new Float32Array(0), rows: 0, dim: 0 };
      const encoded = texts.map((t) => tokenizer.encode(t));
      if (texts.length <= batchSize) return await run(tokenizer.pack(encoded));
      // Several model calls: texts of similar length go together, so padding stays small.
      const order = encoded.map((_, i) => i).sort((a, b) => encoded[a].length - encoded[b].length);
      let out: Float32Array | null = null;
      let dim = 0;
      for (let i = 0; i < order.length; i += batchSize) {
        const idx = order.slice(i, i + batchSize);
        const part = await run(tokenizer.pack(idx.map((k) => encoded[k])));
        dim = part.dim;
        out ??= new Float32Array(texts.length * dim);
        for (let r = 0; r < idx.length; r++) {
          out.set(part.data.subarray(r * dim, (r + 1) * dim), idx[r] * dim);
        }
      }
      return { data: out!, rows: texts.length, dim };
    },
    async dispose() {
      await session.release?.();
    },
  };
}

/**
 * Mean of each row's hidden states over its real tokens (the attention mask), scaled to unit length: one
 * pass over `last_hidden_state` [rows, cols, dim].
 */
export function meanPoolNormalize(hidden: Float32Array, batch: EncodedBatch, dim: number): Float32Array {
  const out = new Float32Array(batch.rows * dim);
  const acc = new Float64Array(dim);
  for (let r = 0; r < batch.rows; r++) {
    const len = batch.lengths[r];
    const first = batch.padLeft ? batch.cols - len : 0;
    acc.fill(0);
    let p = (r * batch.cols + first) * dim;
    for (let j = 0; j < len; j++) {
      for (let k = 0; k < dim; k++) acc[k] += hidden[p + k];
      p += dim;
    }
    const at = r * dim;
    let sq = 0;
    for (let k = 0; k < dim; k++) {
      const v = Math.fround(acc[k] / len);
      out[at + k] = v;
      sq += v * v;
    }
    const norm = Math.max(Math.sqrt(sq), 1e-12);
    for (let k = 0; k < dim; k++) out[at + k] /= norm;
  }
  return out;
}

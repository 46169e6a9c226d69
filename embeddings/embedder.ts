/**
 * The `Embedder` interface every embedding backend implements (local ONNX via transformers.js, the
 * Universal Sentence Encoder Lite on TensorFlow.js, the InferMesh HTTP client, and the lexical hashing
 * embedder), plus vector helpers.
 *
 * @module
 */

/** Backend names accepted by `--backend`. */
export type EmbedderBackend = "local" | "infermesh" | "hash" | "use";

/**
 * What the texts are, for models that embed them differently: search queries, documents, or code chunks as
 * the code index cuts them (path and symbol on the first line, then the code). A backend that makes no
 * difference treats `code` as a document.
 */
export type EmbedKind = "query" | "document" | "code";

/** Options for one {@link Embedder.embed} call. */
export interface EmbedOptions {
  kind?: EmbedKind;
  signal?: AbortSignal;
}

/** Turns texts into fixed-size vectors. */
export interface Embedder {
  /** Backend name. */
  readonly backend: EmbedderBackend;
  /** Model name (a Hugging Face id, a folder, an InferMesh model, `universal-sentence-encoder-lite`, `hash-<dim>`). */
  readonly model: string;
  /** Vector size once known (after the first call for remote/local models). */
  readonly dim: number | undefined;
  /** True when the vectors are lexical (feature hashing), not semantic. */
  readonly lexical: boolean;
  /** Embeds texts; the result has one vector per text, in order. */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /** Releases native resources (ONNX sessions). */
  dispose(): Promise<void>;
}

/** Scales a vector to unit length in place (zero vectors stay zero) and returns it. */
export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}

/** Cosine similarity; 0 when the lengths differ or either vector is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

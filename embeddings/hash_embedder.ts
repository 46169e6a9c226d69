/**
 * A deterministic feature-hashing embedder that needs nothing: code-aware tokens (the same as the lexical
 * index) are hashed into a fixed number of signed buckets with sublinear term weights, then normalised.
 * It is honest about what it is — a lexical embedding: it finds shared words, not shared meaning — and is
 * useful offline, in tests and as a fallback.
 *
 * @module
 */

import { codeTokens } from "../agent/search/mod.ts";
import { type Embedder, normalize } from "./embedder.ts";

/** FNV-1a 32-bit hash of a string. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Options for {@link createHashEmbedder}. */
export interface HashEmbedderOptions {
  /** Vector size (default 256). */
  dim?: number;
}

/**
 * Creates the hashing embedder.
 *
 * @example
 * ```ts
 * const e = createHashEmbedder({ dim: 256 });
 * const [v] = await e.embed(["retry with backoff"]);
 * ```
 */
export function createHashEmbedder(options: HashEmbedderOptions = {}): Embedder {
  const dim = options.dim ?? 256;
  if (!Number.isInteger(dim) || dim < 8) {
    throw new Error(`hash embedder: dim must be an integer ≥ 8, got ${dim}`);
  }
  const embedOne = (text: string) => {
    const counts = new Map<string, number>();
    for (const t of codeTokens(text)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const v = new Float32Array(dim);
    for (const [t, c] of counts) {
      const h = fnv1a(t);
      const sign = (fnv1a(t, 0x9e3779b9) & 1) === 0 ? 1 : -1;
      v[h % dim] += sign * (1 + Math.log(c));
    }
    return normalize(v);
  };
  return {
    backend: "hash",
    model: `hash-${dim}`,
    dim,
    lexical: true,
    embed: (texts) => Promise.resolve(texts.map(embedOne)),
    dispose: () => Promise.resolve(),
  };
}

/**
 * The embedder side of the code-encoder experiment (docs/search.md, "A code-search bi-encoder trained
 * here"): reads what `train.py` wrote and embeds a text as the weighted mean of its subwords' vectors, with
 * the query weights for queries and the code weights for everything else. The tokens match `train.py`'s.
 * For `bench/search_tune.ts --embedder bag:PREFIX`; not part of the product.
 *
 * @module
 */

import type { Embedder, EmbedOptions } from "../../embeddings/mod.ts";

const WORD = /[A-Za-z0-9]+/g;
const PART = /[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+/g;

/** Lower-cased subwords of 2+ characters, no numbers, at most `cap` (as `train.py`'s `tokens`). */
export function subwords(text: string, cap: number): string[] {
  const out: string[] = [];
  for (const word of text.match(WORD) ?? []) {
    for (const part of word.match(PART) ?? []) {
      const p = part.toLowerCase();
      if (p.length < 2 || /^[0-9]+$/.test(p)) continue;
      out.push(p);
      if (out.length >= cap) return out;
    }
  }
  return out;
}

/** Loads `PREFIX.json` and `PREFIX.{emb,wq,wd}.f32`; code texts are read up to `docTokens` subwords. */
export async function createBagEmbedder(prefix: string, docTokens = 256): Promise<Embedder> {
  const meta = JSON.parse(await Deno.readTextFile(`${prefix}.json`)) as { vocab: string[]; dim: number };
  const dim = meta.dim;
  const ids = new Map(meta.vocab.map((w, i) => [w, i + 1]));
  const floats = async (name: string) =>
    new Float32Array((await Deno.readFile(`${prefix}.${name}.f32`)).buffer);
  const [vectors, queryWeights, codeWeights] = await Promise.all([floats("emb"), floats("wq"), floats("wd")]);
  const embedOne = (text: string, query: boolean): Float32Array => {
    const v = new Float32Array(dim);
    const weights = query ? queryWeights : codeWeights;
    for (const t of subwords(text, query ? 48 : docTokens)) {
      const id = ids.get(t);
      if (id === undefined) continue;
      const w = weights[id];
      for (let k = 0, o = id * dim; k < dim; k++) v[k] += w * vectors[o + k];
    }
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += v[k] * v[k];
    if (norm > 0) { for (let k = 0; k < dim; k++) v[k] /= Math.sqrt(norm); }
    return v;
  };
  return {
    // Stored like the hash embedder's vectors (its own model name keeps the two apart).
    backend: "hash",
    model: `bag-${prefix.split("/").pop()}-${dim}`,
    dim,
    lexical: false,
    embed: (texts: string[], options?: EmbedOptions) =>
      Promise.resolve(texts.map((t) => embedOne(t, options?.kind === "query"))),
    dispose: () => Promise.resolve(),
  };
}

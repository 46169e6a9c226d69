/**
 * k-NN search over the vector store: the query is embedded with the store's own backend and model (from
 * its shard header), then ranked by cosine similarity. Used by `embed search` and `GET /api/knn/query`.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { Embedder } from "./embedder.ts";
import { createEmbedder, type CreateEmbedderOptions } from "./emb_index.ts";
import { knn, type KnnHit, type LoadedStore, loadStore, StoreMismatchError } from "./store.ts";

/** Options for {@link searchStore}. */
export interface StoreSearchOptions {
  /** Results (default 5). */
  k?: number;
  /** Embed the query with this embedder (its model must be the store's). */
  embedder?: Embedder;
  /** Overrides for re-creating the store's embedder (e.g. `modelPath`, `url`). */
  overrides?: Partial<CreateEmbedderOptions>;
}

/** The embedder a store was written with. */
export function embedderForStore(
  store: LoadedStore,
  overrides: Partial<CreateEmbedderOptions> = {},
): Promise<Embedder> {
  const h = store.header;
  return createEmbedder({
    backend: h.backend,
    model: h.model,
    modelPath: h.modelPath,
    url: h.url ?? Deno.env.get("INFERMESH_URL"),
    dim: h.backend === "hash" ? h.dim : undefined,
    ...overrides,
  });
}

/** Searches a workspace's store; a clear error when it is empty or the query model does not match. */
export async function searchStore(
  root: string,
  query: string,
  options: StoreSearchOptions = {},
): Promise<{ hits: KnnHit[]; model: string; dim: number; total: number }> {
  if (query.trim() === "") {
    throw new UserError("embed search: the query is empty: say what you are looking for");
  }
  const k = options.k ?? 5;
  if (!Number.isInteger(k) || k < 1 || k > 1000) {
    throw new UserError(`embed search: k must be 1..1000, got ${k}`);
  }
  const store = await loadStore(root);
  if (!store) {
    throw new UserError("the vector store is empty: run 'embed ingest PATH' and 'embed worker' first");
  }
  if (options.embedder && options.embedder.model !== store.header.model) {
    throw new StoreMismatchError(
      `the store holds model '${store.header.model}' but the query embedder is '${options.embedder.model}'`,
    );
  }
  const embedder = options.embedder ?? await embedderForStore(store, options.overrides);
  try {
    const [q] = await embedder.embed([query], { kind: "query" });
    return {
      hits: knn(store, q, k),
      model: store.header.model,
      dim: store.header.dim,
      total: store.records.length,
    };
  } finally {
    if (!options.embedder) await embedder.dispose();
  }
}

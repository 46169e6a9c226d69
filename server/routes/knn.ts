/**
 * `GET /api/knn/query?q=...&k=5`: cosine top-k over the workspace's vector store (what `embed worker`
 * writes), the query embedded with the store's own model. Replies `{query, model, dim, total, hits:
 * [{doc_id, score, text, model, topic}]}`; 404 when the store is empty, 400 for a missing query or when the
 * store's embedder cannot run here. The embedder is kept between requests (loading a model is slow).
 *
 * @module
 */

import { type Embedder, embedderForStore, knn, loadStore } from "../../embeddings/mod.ts";
import type { RouteModule } from "../app.ts";
import { HttpError, intParam } from "../http.ts";

/** The k-NN route. */
export const knnRoutes: RouteModule = {
  name: "knn",
  register(routes, state) {
    let cached: { key: string; embedder: Promise<Embedder> } | null = null;
    routes.get("/api/knn/query", async (c) => {
      const q = c.req.query("q") ?? "";
      if (q.trim() === "") {
        throw new HttpError(400, "query parameter q is missing: /api/knn/query?q=TEXT&k=5");
      }
      if (q.length > 4096) throw new HttpError(400, "query parameter q is over 4096 characters");
      const k = intParam("k", c.req.query("k"), 5, 1, 100);
      const store = await loadStore(state.workspace);
      if (!store) {
        throw new HttpError(
          404,
          "the vector store is empty: run 'embed ingest PATH' and 'embed worker' first",
        );
      }
      const h = store.header;
      const key = JSON.stringify([state.workspace, h.backend, h.model, h.dim, h.modelPath, h.url]);
      if (cached?.key !== key) {
        const old = cached;
        cached = { key, embedder: embedderForStore(store) };
        old?.embedder.then((e) => e.dispose()).catch(() => {});
      }
      let embedder: Embedder;
      try {
        embedder = await cached.embedder;
      } catch (err) {
        cached = null;
        throw err;
      }
      const [vec] = await embedder.embed([q], { kind: "query" });
      return c.json({
        query: q,
        model: h.model,
        dim: h.dim,
        total: store.records.length,
        hits: knn(store, vec, k),
      });
    });
  },
};

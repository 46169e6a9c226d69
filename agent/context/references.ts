/**
 * Code-search references for the LLM modules: the top hits of the workspace's lexical index (`index`
 * command) as {@link Reference}s, the shape CodeContextRAG, TaskAgent context and FileLocator take. A
 * workspace without an index (or with an unreadable one) gives no references rather than an error, because
 * every caller works without them.
 *
 * @module
 */

import { searchIndex } from "../search/lexical_index.ts";
import type { Reference } from "../modules/programs.ts";

/**
 * The `k` best index hits for `query` with 6 lines of context each, from the files as they are now (the index
 * is refreshed first, or built when missing), or `[]` when the workspace has no usable index.
 *
 * @example
 * ```ts
 * const refs = await searchReferences(root, "where is the config parsed", 5);
 * const context = refs.map((r) => `# ${r.path}:${r.start}-${r.end}\n${r.snippet}`).join("\n\n");
 * ```
 */
export async function searchReferences(root: string, query: string, k = 5): Promise<Reference[]> {
  try {
    // Brought up to date first (only changed files are read): the model is about to read or edit these
    // files, and a walk is nothing next to its answer's latency.
    const hits = await searchIndex(root, query, { k, context: 6, refresh: true });
    return hits.map((h) => ({
      path: h.path,
      start: h.start_line,
      end: h.end_line,
      score: h.score,
      snippet: h.snippet,
    }));
  } catch {
    return [];
  }
}

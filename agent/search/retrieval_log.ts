/**
 * The retrieval event log: every `esearch`/`emb-search` appends `{timestamp, event_id, query, hits:[{path,
 * score, source}]}` to `.dspy_agentic/retrieval.jsonl` (the old tool's format) and emits the
 * `retrieval.esearch` action on the event stream.
 *
 * @module
 */

import { join } from "../../core/path.ts";
import { appendJsonLine } from "../../core/atomic.ts";
import { emitAction } from "../../core/events.ts";
import { workspacePaths } from "../../core/workspace.ts";

/** One hit in a retrieval event. */
export interface RetrievalHit {
  path: string;
  score: number;
  /** Which ranking produced it: `bm25`, `hybrid`, or an embedding backend (`emb:hash`, ...). */
  source: string;
}

/** A retrieval event as stored in `retrieval.jsonl`. */
export interface RetrievalEvent {
  timestamp: number;
  event_id: string;
  query: string;
  hits: RetrievalHit[];
}

/** Path of the retrieval log. */
export function retrievalLogPath(root: string): string {
  return join(workspacePaths(root).agenticDir, "retrieval.jsonl");
}

/**
 * Appends a retrieval event (at most `limit` hits, default 20) and emits `retrieval.<kind>` as an action.
 */
export async function logRetrieval(
  root: string,
  query: string,
  hits: RetrievalHit[],
  options: { action?: string; backend?: string; k?: number; limit?: number } = {},
): Promise<RetrievalEvent> {
  const event: RetrievalEvent = {
    timestamp: Date.now() / 1000,
    event_id: crypto.randomUUID(),
    query,
    hits: hits.slice(0, options.limit ?? 20).map((h) => ({ path: h.path, score: h.score, source: h.source })),
  };
  await appendJsonLine(retrievalLogPath(root), event);
  emitAction(options.action ?? "retrieval.esearch", {
    backend: options.backend ?? "bm25",
    query,
    k: options.k ?? hits.length,
    hits: event.hits.length,
    event_id: event.event_id,
  });
  return event;
}

/** Reads the retrieval log (missing file = no events). */
export async function readRetrievalLog(root: string): Promise<RetrievalEvent[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(retrievalLogPath(root));
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

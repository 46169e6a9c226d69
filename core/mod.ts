/**
 * What every folder needs: workspace paths, the KV handle, ordered streams, the event API, atomic writes
 * and error types.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./version.ts";
export * from "./atomic.ts";
export * from "./workspace.ts";
export * from "./kv.ts";
export * from "./streams.ts";
export * from "./events.ts";
export * from "./guard.ts";
export * from "./tool_stats.ts";
export * from "./jsonl.ts";
export * from "./regex.ts";
export * from "./sleep.ts";
export * from "./git_exclude.ts";
export * from "./read_whole.ts";
export * from "./url_path.ts";

/**
 * Per-tool statistics from the `tool.end` events on `agent.metrics`: count, successes, success rate, average
 * score and duration, the most recent events, and the latest session summary (KV `agent.session.summary`).
 * Shared by `dspy-code stats`, `dashboard-lite` and the status server's `/api/tools/stats`.
 *
 * @module
 */

import { type MetricEnvelope, METRICS_STREAM } from "./events.ts";
import { readStream, streamHead } from "./streams.ts";

/** KV key of the rolling session summary. */
export const SESSION_SUMMARY_KEY: Deno.KvKey = ["agent.session.summary"];

/** The data of a `tool.end` event. */
export interface ToolEndData {
  tool: string;
  args?: unknown;
  step?: number;
  session?: string;
  success: boolean;
  score: number;
  duration_sec: number;
  error?: string;
}

/** One row of the per-tool table. */
export interface ToolStatsRow {
  tool: string;
  count: number;
  success: number;
  success_rate: number;
  avg_score: number;
  avg_duration_sec: number;
}

/** Result of {@link computeToolStats}. */
export interface ToolStats {
  tools: ToolStatsRow[];
  recent: (ToolEndData & { ts: number })[];
  session_summary: Record<string, unknown> | null;
  events_read: number;
}

/** Options for {@link computeToolStats}. */
export interface ToolStatsOptions {
  /** Read at most this many of the newest metric events (default 5000). */
  window?: number;
  /** How many recent `tool.end` events to return (default 20). */
  recent?: number;
  /** Only events of this workspace (exact match on the envelope's `workspace`). */
  workspace?: string;
}

/** Computes the per-tool table from the newest `window` events of `agent.metrics`. */
export async function computeToolStats(kv: Deno.Kv, options: ToolStatsOptions = {}): Promise<ToolStats> {
  const window = options.window ?? 5000;
  const head = await streamHead(kv, METRICS_STREAM);
  const entries = await readStream<MetricEnvelope>(kv, METRICS_STREAM, {
    after: Math.max(0, head - window),
    limit: window,
  });
  const acc = new Map<string, { count: number; success: number; score: number; dur: number }>();
  const recent: (ToolEndData & { ts: number })[] = [];
  for (const { value } of entries) {
    if (value?.metric !== "tool.end") continue;
    if (options.workspace && value.workspace !== options.workspace) continue;
    const data = value.data as unknown as ToolEndData;
    const row = acc.get(data.tool) ?? { count: 0, success: 0, score: 0, dur: 0 };
    row.count++;
    if (data.success) row.success++;
    row.score += Number(data.score) || 0;
    row.dur += Number(data.duration_sec) || 0;
    acc.set(data.tool, row);
    recent.push({ ...data, ts: value.ts });
  }
  const tools = [...acc.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tool, r]) => ({
    tool,
    count: r.count,
    success: r.success,
    success_rate: r.success / r.count,
    avg_score: r.score / r.count,
    avg_duration_sec: r.dur / r.count,
  }));
  const summary = await kv.get<Record<string, unknown>>(SESSION_SUMMARY_KEY);
  return {
    tools,
    recent: recent.slice(-(options.recent ?? 20)).reverse(),
    session_summary: summary.value,
    events_read: entries.length,
  };
}

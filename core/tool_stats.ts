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
  /** Mean score over the events that carried one (null when none did). */
  avg_score: number | null;
  /** Mean duration over the events that carried one (null when none did). */
  avg_duration_sec: number | null;
  /** Newest event time (seconds since the epoch). */
  last_ts: number;
}

function finite(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * Aggregates `tool.end` event data into per-tool rows, most used first. Events are read defensively (they may
 * come from older versions or other producers): a missing score or duration is skipped, never counted as 0.
 */
export function aggregateToolEnds(items: { ts: number; data: unknown }[]): ToolStatsRow[] {
  const acc = new Map<
    string,
    {
      count: number;
      success: number;
      score: number;
      scored: number;
      dur: number;
      timed: number;
      last: number;
    }
  >();
  for (const item of items) {
    const d = (item.data ?? {}) as Record<string, unknown>;
    const tool = typeof d.tool === "string" ? d.tool : typeof d.name === "string" ? d.name : "unknown";
    const a = acc.get(tool) ?? { count: 0, success: 0, score: 0, scored: 0, dur: 0, timed: 0, last: 0 };
    a.count++;
    if (d.success === true || d.ok === true) a.success++;
    const score = finite(d.score);
    if (score !== undefined) {
      a.score += score;
      a.scored++;
    }
    const ms = finite(d.duration_ms);
    const dur = finite(d.duration_sec) ?? (ms !== undefined ? ms / 1000 : undefined);
    if (dur !== undefined) {
      a.dur += dur;
      a.timed++;
    }
    a.last = Math.max(a.last, finite(item.ts) ?? 0);
    acc.set(tool, a);
  }
  const r4 = (n: number) => Math.round(n * 10_000) / 10_000;
  return [...acc].map(([tool, a]) => ({
    tool,
    count: a.count,
    success: a.success,
    success_rate: r4(a.success / a.count),
    avg_score: a.scored ? r4(a.score / a.scored) : null,
    avg_duration_sec: a.timed ? r4(a.dur / a.timed) : null,
    last_ts: a.last,
  })).sort((x, y) => y.count - x.count || x.tool.localeCompare(y.tool));
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
  const ends: { ts: number; data: unknown }[] = [];
  const recent: (ToolEndData & { ts: number })[] = [];
  for (const { value } of entries) {
    if (value?.metric !== "tool.end") continue;
    if (options.workspace && value.workspace !== options.workspace) continue;
    ends.push({ ts: value.ts, data: value.data });
    recent.push({ ...(value.data as unknown as ToolEndData), ts: value.ts });
  }
  const tools = aggregateToolEnds(ends);
  const summary = await kv.get<Record<string, unknown>>(SESSION_SUMMARY_KEY);
  return {
    tools,
    recent: recent.slice(-(options.recent ?? 20)).reverse(),
    session_summary: summary.value,
    events_read: entries.length,
  };
}

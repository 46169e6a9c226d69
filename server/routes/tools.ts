/**
 * `GET /api/tools/stats`: what the old "lite dashboard" showed. Per-tool count, success rate, average
 * score and average duration from the `tool.end` metrics on `agent.metrics` (the newest `window` entries),
 * the most recent `tool.end` events, and the latest session summary (KV `["agent.session.summary"]`, else
 * the newest `session.summary` metric).
 *
 * @module
 */

import { METRICS_STREAM } from "../../core/events.ts";
import type { StreamEntry } from "../../core/streams.ts";
import type { RouteModule } from "../app.ts";
import { intParam } from "../http.ts";
import { type EventItem, toItem } from "./events.ts";

/** Aggregated stats of one tool. */
export interface ToolStats {
  tool: string;
  count: number;
  success: number;
  success_rate: number;
  avg_score: number | null;
  avg_duration_sec: number | null;
  last_ts: number;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Aggregates `tool.end` items (read defensively: missing fields are skipped, not guessed). */
export function aggregateToolEnds(items: EventItem[]): ToolStats[] {
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
    const score = num(d.score);
    if (score !== undefined) {
      a.score += score;
      a.scored++;
    }
    const dur = num(d.duration_sec) ??
      (num(d.duration_ms) !== undefined ? num(d.duration_ms)! / 1000 : undefined);
    if (dur !== undefined) {
      a.dur += dur;
      a.timed++;
    }
    a.last = Math.max(a.last, item.ts);
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

/** The tools route. */
export const toolRoutes: RouteModule = {
  name: "tools",
  register(routes, state) {
    routes.get("/api/tools/stats", async (c) => {
      const window = intParam("window", c.req.query("window"), 5000, 1, 100_000);
      const recentN = intParam("recent", c.req.query("recent"), 20, 0, 500);
      const kv = await state.kv();
      const ends: EventItem[] = [];
      let summary: unknown = null;
      let summaryTs: number | null = null;
      let scanned = 0;
      const iter = kv.list<StreamEntry>(
        {
          start: ["stream", METRICS_STREAM, "e", 0],
          end: ["stream", METRICS_STREAM, "e", Number.MAX_SAFE_INTEGER],
        },
        { reverse: true, batchSize: 500 },
      );
      for await (const e of iter) {
        if (++scanned > window) break;
        const item = toItem(METRICS_STREAM, e.value);
        if (item.name === "tool.end") ends.push(item);
        else if (item.name === "session.summary" && summary === null) {
          summary = item.data;
          summaryTs = item.ts;
        }
      }
      const stored = await kv.get(["agent.session.summary"]);
      if (stored.value !== null) summary = stored.value;
      ends.reverse();
      return c.json({
        tools: aggregateToolEnds(ends),
        recent: recentN ? ends.slice(-recentN).reverse() : [],
        session_summary: summary,
        session_summary_ts: summaryTs,
        window: { scanned: Math.min(scanned, window), tool_end: ends.length },
      });
    });
  },
};

/**
 * `GET /api/tools/stats`: what the old "lite dashboard" showed. Per-tool count, success rate, average
 * score and average duration from the `tool.end` metrics on `agent.metrics` (the newest `window` entries),
 * the most recent `tool.end` events, and the latest session summary (KV `["agent.session.summary"]`, else
 * the newest `session.summary` metric).
 *
 * @module
 */

import { METRICS_STREAM } from "../../core/events.ts";
import { aggregateToolEnds, SESSION_SUMMARY_KEY, type ToolStatsRow } from "../../core/tool_stats.ts";
import { scanStreamBackward } from "../../core/streams.ts";
import type { RouteModule } from "../app.ts";
import { intParam } from "../http.ts";
import { type EventItem, toItem } from "./events.ts";

/** Aggregated stats of one tool (the shared aggregation in `core/tool_stats.ts`). */
export type ToolStats = ToolStatsRow;

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
      for await (const e of scanStreamBackward(kv, METRICS_STREAM, window)) {
        if (++scanned > window) break;
        const item = toItem(METRICS_STREAM, e);
        if (item.name === "tool.end") ends.push(item);
        else if (item.name === "session.summary" && summary === null) {
          summary = item.data;
          summaryTs = item.ts;
        }
      }
      const stored = await kv.get(SESSION_SUMMARY_KEY);
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

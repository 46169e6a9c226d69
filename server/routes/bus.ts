/**
 * Bus and dead-letter routes: `GET /api/bus` (the bus's metrics snapshot, per-topic totals, the durable
 * topics every process wrote to KV with their groups' committed offsets, and a sampled history of queue
 * depth and group lag), `GET /api/dlq` (dead letters, newest first, filterable by topic),
 * and the admin actions `POST /api/dlq/replay` and `POST /api/dlq/purge` with `{ids?: string[], topic?}`.
 * Without a bus in this process the routes answer 503 with what to run.
 *
 * @module
 */

import { checkDeadLetterId, checkTopicName } from "../../bus/mod.ts";
import type { RouteModule } from "../app.ts";
import type { DlqSelector, DurableTopicStatus, ServerBus } from "../bus_adapter.ts";
import { HttpError, intParam, readJsonObject } from "../http.ts";
import type { ServerState } from "../state.ts";
import { topicTotals } from "./metrics.ts";

function requireBus(state: ServerState): ServerBus {
  if (!state.bus) {
    throw new HttpError(503, "no bus runs in this server: start it with 'dspy-code up'");
  }
  return state.bus;
}

/** Validates a DLQ selector body. */
export function parseSelector(body: Record<string, unknown>, requireSome: boolean): DlqSelector {
  const sel: DlqSelector = {};
  if (body.ids !== undefined) {
    if (
      !Array.isArray(body.ids) || body.ids.length > 10_000 || !body.ids.every((x) => typeof x === "string")
    ) {
      throw new HttpError(400, "ids must be an array of dead-letter ids (strings)");
    }
    try {
      for (const id of body.ids as string[]) checkDeadLetterId(id);
    } catch (err) {
      throw new HttpError(400, `ids: ${(err as Error).message}`);
    }
    sel.ids = body.ids as string[];
  }
  if (body.topic !== undefined) {
    if (typeof body.topic !== "string" || body.topic === "") {
      throw new HttpError(400, "topic must be a non-empty string");
    }
    try {
      checkTopicName(body.topic);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    sel.topic = body.topic;
  }
  if (requireSome && sel.ids === undefined && sel.topic === undefined && body.all !== true) {
    throw new HttpError(400, 'say what to act on: {"ids": [...]}, {"topic": "..."} or {"all": true}');
  }
  return sel;
}

const refreshing = new WeakMap<ServerState, Promise<DurableTopicStatus[]>>();

/**
 * The durable topics in KV as every process wrote them, re-read when the cached view is older than
 * `maxAgeMs` (concurrent callers share one read). Empty without a bus.
 */
export function refreshDurable(state: ServerState, maxAgeMs = 0): Promise<DurableTopicStatus[]> {
  const bus = state.bus;
  if (!bus?.durable) return Promise.resolve([]);
  if (state.durable && Date.now() - state.durable.at <= maxAgeMs) {
    return Promise.resolve(state.durable.topics);
  }
  let p = refreshing.get(state);
  if (!p) {
    p = bus.durable().then((topics) => {
      state.durable = { at: Date.now(), topics };
      return topics;
    }).finally(() => refreshing.delete(state));
    refreshing.set(state, p);
  }
  return p;
}

/**
 * Takes one bus sample into the history ring: queue depth per topic and lag per group of this process's
 * bus, plus the lag of the durable groups other processes consume (from the latest KV view).
 */
export function sampleBus(state: ServerState): void {
  if (!state.bus) return;
  const m = state.bus.metrics();
  const depth: Record<string, number> = {};
  for (const [topic, t] of Object.entries(topicTotals(m))) depth[topic] = t.depth;
  const lag: Record<string, number> = {};
  for (const [topic, groups] of Object.entries(m.groups ?? {})) {
    for (const [group, g] of Object.entries(groups ?? {})) lag[`${topic}/${group}`] = g?.lag ?? 0;
  }
  for (const t of state.durable?.topics ?? []) {
    for (const [group, g] of Object.entries(t.groups)) lag[`${t.topic}/${group}`] ??= g.lag;
  }
  state.busHistory.push({ depth, lag });
}

/** The bus routes. */
export const busRoutes: RouteModule = {
  name: "bus",
  register(routes, state) {
    routes.get("/api/bus", async (c) => {
      const bus = requireBus(state);
      const m = bus.metrics();
      const durable = await refreshDurable(state, 1000);
      return c.json({
        backend: bus.backend,
        workspace: state.home,
        topics: m.topics,
        groups: m.groups,
        dlq: m.dlq,
        totals: topicTotals(m),
        durable,
        history: state.busHistory.list(),
      });
    });

    routes.get("/api/dlq", async (c) => {
      const bus = requireBus(state);
      const limit = intParam("limit", c.req.query("limit"), 100, 1, 1000);
      const topic = c.req.query("topic") || undefined;
      const items = await bus.dlqList({ limit, topic });
      return c.json({ count: items.length, total: bus.metrics().dlq?.total ?? items.length, items });
    });

    routes.post("/api/dlq/replay", async (c) => {
      const bus = requireBus(state);
      const sel = parseSelector(await readJsonObject(c.req.raw, state.bodyLimit, state.bodyTimeoutMs), true);
      const result = await bus.dlqReplay(sel);
      return c.json({
        ok: result.failed.length === 0,
        replayed: result.replayed.length,
        ids: result.replayed,
        failed: result.failed,
      });
    }, { admin: true });

    routes.post("/api/dlq/purge", async (c) => {
      const bus = requireBus(state);
      const sel = parseSelector(await readJsonObject(c.req.raw, state.bodyLimit, state.bodyTimeoutMs), true);
      const purged = await bus.dlqPurge(sel);
      return c.json({ ok: true, purged });
    }, { admin: true });
  },
};

/**
 * `GET /metrics`: Prometheus text exposition (bus counters per topic, queue depth and group lag gauges,
 * dead-letter totals, HTTP request counts and latency histograms by route, open SSE streams, process
 * memory, and the embed workers' counters). `?format=json` or `Accept: application/json` returns
 * `{bus, dlq, http, process, embed_workers}` instead, where `bus` and `dlq` are the bus's own snapshots (null
 * when no bus runs in this process) and `embed_workers` the snapshots that embed workers in any process write
 * under `.dspy_reports/embed_workers/`.
 *
 * @module
 */

import { type EmbedWorkerMetrics, readWorkerMetrics } from "../../embeddings/mod.ts";
import type { RouteModule } from "../app.ts";
import type { BusMetrics, DurableTopicStatus } from "../bus_adapter.ts";
import { LATENCY_BUCKETS } from "../http_metrics.ts";
import { PROMETHEUS_CONTENT_TYPE, PromWriter } from "../prometheus.ts";
import type { ServerState } from "../state.ts";

/** Per-topic totals derived from a bus snapshot. */
export interface TopicTotals {
  published: number;
  delivered: number;
  dropped: number;
  depth: number;
}

/** Sums subscriber and group counters per topic. */
export function topicTotals(m: BusMetrics): Record<string, TopicTotals> {
  const out: Record<string, TopicTotals> = {};
  const get = (t: string) => out[t] ??= { published: 0, delivered: 0, dropped: 0, depth: 0 };
  for (const [topic, info] of Object.entries(m.topics ?? {})) {
    const t = get(topic);
    t.published += num(info?.published);
    for (const s of info?.subscribers ?? []) {
      t.delivered += num(s?.delivered);
      t.dropped += num(s?.dropped);
      t.depth += num(s?.qsize);
    }
  }
  for (const [topic, groups] of Object.entries(m.groups ?? {})) {
    const t = get(topic);
    for (const g of Object.values(groups ?? {})) {
      t.delivered += num(g?.delivered);
      t.dropped += num(g?.dropped);
    }
  }
  return out;
}

/** How many messages a durable topic's log retains. */
export function storedCount(t: DurableTopicStatus): number {
  return t.head > 0 && t.first > 0 ? t.head - t.first + 1 : 0;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

let memCache: { at: number; value: Deno.MemoryUsage } | undefined;

/** Process memory, read at most once per second (reading it costs tens of microseconds). */
function memoryUsage(): Deno.MemoryUsage {
  const now = Date.now();
  if (!memCache || now - memCache.at > 1000) memCache = { at: now, value: Deno.memoryUsage() };
  return memCache.value;
}

function processInfo(state: ServerState) {
  const mem = memoryUsage();
  return {
    pid: Deno.pid,
    uptime_s: Math.round((Date.now() - state.startedAt) / 10) / 100,
    rss_bytes: mem.rss,
    heap_used_bytes: mem.heapUsed,
    heap_total_bytes: mem.heapTotal,
    external_bytes: mem.external,
  };
}

let workersCache: { at: number; workspace: string; value: Promise<EmbedWorkerMetrics[]> } | undefined;

/** Embed worker snapshots (written by worker processes), read at most once per second. */
function embedWorkers(workspace: string): Promise<EmbedWorkerMetrics[]> {
  const now = Date.now();
  if (!workersCache || workersCache.workspace !== workspace || now - workersCache.at > 1000) {
    workersCache = { at: now, workspace, value: readWorkerMetrics(workspace) };
  }
  return workersCache.value;
}

/** Embed worker counters (any process's, from their snapshots) as Prometheus families. */
function renderEmbedWorkers(w: PromWriter, workers: EmbedWorkerMetrics[]): void {
  const families: [keyof EmbedWorkerMetrics, string, "counter" | "gauge", string][] = [
    ["records_in", "dspy_embed_worker_records_in_total", "counter", "Input records taken by an embed worker"],
    ["records_out", "dspy_embed_worker_records_out_total", "counter", "Records embedded and stored"],
    ["batches", "dspy_embed_worker_batches_total", "counter", "Batches processed"],
    ["cache_hits", "dspy_embed_worker_cache_hits_total", "counter", "Texts served from the vector cache"],
    ["failures", "dspy_embed_worker_failures_total", "counter", "Embedding calls that failed after retries"],
    [
      "dlq_records",
      "dspy_embed_worker_dlq_records_total",
      "counter",
      "Records sent to the dead-letter queue",
    ],
    ["last_rtt_ms", "dspy_embed_worker_last_rtt_ms", "gauge", "Duration of the last embedding call in ms"],
    ["lag", "dspy_embed_worker_lag", "gauge", "Input messages not yet acknowledged by the group"],
  ];
  for (const [field, name, type, help] of families) {
    for (const m of workers) {
      const labels = { worker: m.worker, topic: m.topic, group: m.group, model: m.model };
      const v = num(m[field]);
      if (type === "counter") w.counter(name, help, v, labels);
      else w.gauge(name, help, v, labels);
    }
  }
  for (const m of workers) {
    w.gauge("dspy_embed_worker_up", "1 while an embed worker runs (0 once it stopped)", m.stopped ? 0 : 1, {
      worker: m.worker,
      topic: m.topic,
      group: m.group,
      model: m.model,
    });
  }
}

/** Renders the Prometheus document (`embedWorkers`: snapshots from {@link readWorkerMetrics}). */
export function renderPrometheus(state: ServerState, embedWorkers: EmbedWorkerMetrics[] = []): string {
  const w = new PromWriter();
  renderEmbedWorkers(w, embedWorkers);
  const bus = state.bus?.metrics();
  w.gauge("dspy_bus_up", "1 when a bus runs in this process", bus ? 1 : 0);
  if (bus) {
    const totals = Object.entries(topicTotals(bus));
    for (const [topic, t] of totals) {
      w.counter("dspy_bus_published_total", "Messages published per topic", t.published, { topic });
    }
    for (const [topic, t] of totals) {
      w.counter("dspy_bus_delivered_total", "Messages delivered per topic", t.delivered, { topic });
    }
    for (const [topic, t] of totals) {
      w.counter("dspy_bus_dropped_total", "Messages dropped (dead-lettered) per topic", t.dropped, { topic });
    }
    for (const [topic, t] of totals) {
      w.gauge("dspy_bus_queue_depth", "Messages queued in subscriber queues per topic", t.depth, { topic });
    }
    for (const [topic, groups] of Object.entries(bus.groups ?? {})) {
      for (const [group, g] of Object.entries(groups ?? {})) {
        w.gauge("dspy_bus_group_lag", "Messages not yet acknowledged per consumer group", num(g?.lag), {
          topic,
          group,
        });
      }
    }
    for (const [topic, groups] of Object.entries(bus.groups ?? {})) {
      for (const [group, g] of Object.entries(groups ?? {})) {
        w.gauge("dspy_bus_group_members", "Live members per consumer group", num(g?.members), {
          topic,
          group,
        });
      }
    }
    // Durable topics as stored in KV by every process (the latest sampled view).
    const durable = state.durable?.topics ?? [];
    for (const t of durable) {
      w.counter("dspy_bus_durable_appended_total", "Messages appended to a durable topic's KV log", t.head, {
        topic: t.topic,
      });
    }
    for (const t of durable) {
      w.gauge("dspy_bus_durable_stored", "Messages retained in a durable topic's KV log", storedCount(t), {
        topic: t.topic,
      });
    }
    for (const t of durable) {
      for (const [group, g] of Object.entries(t.groups)) {
        w.gauge(
          "dspy_bus_durable_group_lag",
          "Messages past a durable group's committed offset (any process)",
          g.lag,
          { topic: t.topic, group },
        );
      }
    }
    w.gauge("dspy_dlq_records", "Dead-letter records stored", num(bus.dlq?.total));
    for (const [topic, n] of Object.entries(bus.dlq?.by_topic ?? {})) {
      w.gauge("dspy_dlq_topic_records", "Dead-letter records stored per topic", num(n), { topic });
    }
  }
  for (const [route, method, status, count] of state.http.counters()) {
    w.counter("dspy_http_requests_total", "HTTP requests by route, method and status", count, {
      route,
      method,
      status,
    });
  }
  for (const [route, h] of state.http.histograms()) {
    w.histogram(
      "dspy_http_request_duration_seconds",
      "HTTP handler latency by route (time to response headers)",
      LATENCY_BUCKETS,
      h.buckets,
      h.inf,
      h.sum,
      { route },
    );
  }
  w.gauge("dspy_sse_open_streams", "Server-sent event streams open", state.sse.open);
  const p = processInfo(state);
  w.gauge("process_resident_memory_bytes", "Resident memory size in bytes", p.rss_bytes);
  w.gauge("dspy_process_heap_used_bytes", "V8 heap used in bytes", p.heap_used_bytes);
  w.gauge("dspy_process_heap_total_bytes", "V8 heap total in bytes", p.heap_total_bytes);
  w.gauge("dspy_process_uptime_seconds", "Seconds since the server started", p.uptime_s);
  return w.toString();
}

/** The metrics route. */
export const metricsRoutes: RouteModule = {
  name: "metrics",
  register(routes, state) {
    routes.get("/metrics", async (c) => {
      const format = c.req.query("format");
      const wantsJson = format === "json" ||
        (format === undefined && (c.req.header("accept") ?? "").includes("application/json"));
      if (format !== undefined && format !== "json" && format !== "prometheus" && format !== "text") {
        return c.json({
          error: `unknown format '${format.slice(0, 50)}': use json or prometheus`,
          status: 400,
        }, 400);
      }
      if (wantsJson) {
        const bus = state.bus?.metrics();
        return c.json({
          bus: bus
            ? {
              backend: state.bus!.backend,
              topics: bus.topics,
              groups: bus.groups,
              durable: state.durable?.topics ?? [],
            }
            : null,
          dlq: bus ? bus.dlq : null,
          http: state.http.snapshot(state.sse.open),
          process: processInfo(state),
          embed_workers: await embedWorkers(state.workspace),
        });
      }
      const workers = await embedWorkers(state.workspace);
      return c.body(renderPrometheus(state, workers), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    });
  },
};

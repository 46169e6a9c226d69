/**
 * Request counters and latency histograms by route, kept in memory for `/metrics`. Routes are the
 * registered path patterns (not raw paths), so the label set stays small whatever clients send.
 * {@link HttpMetrics.observe} runs on every request and allocates nothing once a (route, method, status)
 * has been seen: counters live in nested maps keyed by the strings and the status number, and the
 * histogram bucket is found by comparison.
 *
 * @module
 */

/** Histogram bucket upper bounds in seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Per-route latency histogram. */
export interface RouteHistogram {
  /** Cumulative-ready counts per bucket (non-cumulative here; index i counts `le` bucket i). */
  buckets: number[];
  /** Count of observations above the last bucket. */
  inf: number;
  sum: number;
  count: number;
}

/** JSON snapshot of {@link HttpMetrics}. */
export interface HttpMetricsSnapshot {
  /** `{route: {method: {status: count}}}`. */
  requests: Record<string, Record<string, Record<string, number>>>;
  /** `{route: {count, sum_s, avg_ms, p50_ms, p99_ms}}` estimated from the histogram. */
  latency: Record<string, { count: number; sum_s: number; avg_ms: number; p50_ms: number; p99_ms: number }>;
  /** Streams open right now. */
  sse_open: number;
  /** Total requests served. */
  total: number;
}

/** The in-memory store. */
export class HttpMetrics {
  /** route → method → status → count. */
  #requests = new Map<string, Map<string, Map<number, number>>>();
  #latency = new Map<string, RouteHistogram>();
  #total = 0;

  /** Records one finished request. */
  observe(route: string, method: string, status: number, seconds: number): void {
    this.#total++;
    let byMethod = this.#requests.get(route);
    if (byMethod === undefined) this.#requests.set(route, byMethod = new Map());
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map());
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let h = this.#latency.get(route);
    if (!h) {
      h = { buckets: LATENCY_BUCKETS.map(() => 0), inf: 0, sum: 0, count: 0 };
      this.#latency.set(route, h);
    }
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    if (i === LATENCY_BUCKETS.length) h.inf++;
    else h.buckets[i]++;
    h.sum += seconds;
    h.count++;
  }

  /** Raw counters: `[route, method, status, count]`. */
  counters(): [string, string, number, number][] {
    const out: [string, string, number, number][] = [];
    for (const [route, byMethod] of this.#requests) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, count] of byStatus) out.push([route, method, status, count]);
      }
    }
    return out;
  }

  /** Raw histograms by route. */
  histograms(): [string, RouteHistogram][] {
    return [...this.#latency];
  }

  /** JSON view. */
  snapshot(sseOpen: number): HttpMetricsSnapshot {
    const requests: HttpMetricsSnapshot["requests"] = {};
    for (const [route, method, status, count] of this.counters()) {
      ((requests[route] ??= {})[method] ??= {})[String(status)] = count;
    }
    const latency: HttpMetricsSnapshot["latency"] = {};
    for (const [route, h] of this.#latency) {
      latency[route] = {
        count: h.count,
        sum_s: round(h.sum, 6),
        avg_ms: h.count ? round((h.sum / h.count) * 1000, 3) : 0,
        p50_ms: round(quantile(h, 0.5) * 1000, 3),
        p99_ms: round(quantile(h, 0.99) * 1000, 3),
      };
    }
    return { requests, latency, sse_open: sseOpen, total: this.#total };
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Upper-bound estimate of a quantile from bucket counts. */
function quantile(h: RouteHistogram, q: number): number {
  if (h.count === 0) return 0;
  const target = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    seen += h.buckets[i];
    if (seen >= target) return LATENCY_BUCKETS[i];
  }
  return LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1];
}

/**
 * Counters and histograms of the embedding server, rendered as Prometheus text (format 0.0.4): requests by
 * route and status, rejections by reason, texts and batches per model, the batch-size and request-latency
 * histograms, and the queue depth per model (read live at render time).
 *
 * @module
 */

/** Batch-size histogram bounds (texts per model call). */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** Latency histogram bounds in seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: number[]) {
    this.counts = new Array(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= this.bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
}

function labels(obj: Record<string, string | number>): string {
  const parts = Object.entries(obj).map(([k, v]) =>
    `${k}="${String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** The server's metrics. */
export class EmbedServerMetrics {
  #requests = new Map<string, number>();
  #rejections = new Map<string, number>();
  #texts = new Map<string, number>();
  #batches = new Map<string, number>();
  #modelErrors = new Map<string, number>();
  #batchSizes = new Map<string, Histogram>();
  #latency = new Map<string, Histogram>();
  readonly startedAt = Date.now();

  /** One finished request. */
  request(route: string, status: number, seconds: number): void {
    const key = `${route}\u0000${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#latency.get(route);
    if (!h) this.#latency.set(route, h = new Histogram(LATENCY_BUCKETS));
    h.observe(seconds);
  }

  /** A refused request (`queue_full`, `bad_request`, `too_large`, `unauthorized`, `unknown_model`). */
  reject(reason: string): void {
    this.#rejections.set(reason, (this.#rejections.get(reason) ?? 0) + 1);
  }

  /** One model call. */
  batch(model: string, size: number, ok: boolean): void {
    this.#batches.set(model, (this.#batches.get(model) ?? 0) + 1);
    if (!ok) {
      this.#modelErrors.set(model, (this.#modelErrors.get(model) ?? 0) + 1);
      return;
    }
    this.#texts.set(model, (this.#texts.get(model) ?? 0) + size);
    let h = this.#batchSizes.get(model);
    if (!h) this.#batchSizes.set(model, h = new Histogram(BATCH_BUCKETS));
    h.observe(size);
  }

  /** Plain numbers for tests and `/health`-style summaries. */
  snapshot(): { requests: number; rejections: Record<string, number>; batches: number; texts: number } {
    let requests = 0;
    for (const n of this.#requests.values()) requests += n;
    let batches = 0;
    for (const n of this.#batches.values()) batches += n;
    let texts = 0;
    for (const n of this.#texts.values()) texts += n;
    return { requests, rejections: Object.fromEntries(this.#rejections), batches, texts };
  }

  /** Prometheus text; `depth(model)` gives the live queue depth. */
  render(models: string[], depth: (model: string) => number): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family("infermesh_requests_total", "counter", "HTTP requests by route and status");
    for (const [key, n] of this.#requests) {
      const [route, status] = key.split("\u0000");
      out.push(`infermesh_requests_total${labels({ route, status })} ${n}`);
    }
    family("infermesh_rejections_total", "counter", "Requests refused, by reason");
    for (const [reason, n] of this.#rejections) {
      out.push(`infermesh_rejections_total${labels({ reason })} ${n}`);
    }
    family("infermesh_texts_total", "counter", "Texts embedded per model");
    for (const m of models) {
      out.push(`infermesh_texts_total${labels({ model: m })} ${this.#texts.get(m) ?? 0}`);
    }
    family("infermesh_batches_total", "counter", "Model calls per model");
    for (const m of models) {
      out.push(`infermesh_batches_total${labels({ model: m })} ${this.#batches.get(m) ?? 0}`);
    }
    family("infermesh_model_errors_total", "counter", "Model calls that failed per model");
    for (const m of models) {
      out.push(`infermesh_model_errors_total${labels({ model: m })} ${this.#modelErrors.get(m) ?? 0}`);
    }
    family("infermesh_queue_depth", "gauge", "Texts waiting for a model call per model");
    for (const m of models) out.push(`infermesh_queue_depth${labels({ model: m })} ${depth(m)}`);
    const hist = (name: string, label: string, map: Map<string, Histogram>) => {
      for (const [key, h] of map) {
        let cum = 0;
        h.bounds.forEach((b, i) => {
          cum += h.counts[i];
          out.push(`${name}_bucket${labels({ [label]: key, le: b })} ${cum}`);
        });
        out.push(`${name}_bucket${labels({ [label]: key, le: "+Inf" })} ${h.count}`);
        out.push(`${name}_sum${labels({ [label]: key })} ${h.sum}`);
        out.push(`${name}_count${labels({ [label]: key })} ${h.count}`);
      }
    };
    family("infermesh_batch_size", "histogram", "Texts per model call");
    hist("infermesh_batch_size", "model", this.#batchSizes);
    family("infermesh_request_duration_seconds", "histogram", "Request latency by route");
    hist("infermesh_request_duration_seconds", "route", this.#latency);
    family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
    out.push(`process_resident_memory_bytes ${Deno.memoryUsage().rss}`);
    return out.join("\n") + "\n";
  }
}

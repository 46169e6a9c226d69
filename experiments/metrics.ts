/**
 * Metric arithmetic shared by the embed runner and the benchmark: texts per second over the embedding
 * loop's wall time and batch latency percentiles (nearest rank), rounded for display.
 *
 * @module
 */

/** Nearest-rank percentile of `values` (0..100); null for an empty list. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

function round(n: number | null, digits: number): number | null {
  if (n === null || !Number.isFinite(n)) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The headline metrics of an embed run. */
export interface EmbedMetrics {
  texts: number;
  embedded: number;
  failures: number;
  seconds: number;
  texts_per_s: number;
  batch_p50_ms: number | null;
  batch_p95_ms: number | null;
}

/** Computes {@link EmbedMetrics}: `texts_per_s` counts only texts that were embedded. */
export function computeEmbedMetrics(input: {
  texts: number;
  failures: number;
  seconds: number;
  latenciesMs: number[];
}): EmbedMetrics {
  const embedded = input.texts - input.failures;
  return {
    texts: input.texts,
    embedded,
    failures: input.failures,
    seconds: round(input.seconds, 3)!,
    texts_per_s: round(embedded / Math.max(input.seconds, 1e-9), 2)!,
    batch_p50_ms: round(percentile(input.latenciesMs, 50), 2),
    batch_p95_ms: round(percentile(input.latenciesMs, 95), 2),
  };
}

/**
 * Timestamps in human output (`tail`, `stats`, `dashboard-lite`, `dlq list`): UTC, to the second.
 *
 * @module
 */

/** Formats seconds since the epoch as `2026-01-31 12:00:00Z`; `-` when the value is not a finite number. */
export function formatTs(tsSeconds: number): string {
  if (!Number.isFinite(tsSeconds)) return "-";
  return new Date(tsSeconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/**
 * Embed worker metrics shared across processes: each worker writes its snapshot to
 * `.dspy_reports/embed_workers/<worker id>.json` (replaced atomically, about once a second and at exit),
 * and the status server reads every snapshot to show them in its `/metrics` (Prometheus and JSON), so a
 * worker running in another process — or several — is visible.
 *
 * @module
 */

import { join } from "node:path";
import { atomicWriteJson } from "../core/atomic.ts";
import { workspacePaths } from "../core/workspace.ts";

/** One worker's counters. */
export interface EmbedWorkerMetrics {
  worker: string;
  pid: number;
  topic: string;
  group: string;
  model: string;
  backend: string;
  started_ts: number;
  /** Seconds since the epoch of this snapshot. */
  ts: number;
  /** True once the worker stopped (its last snapshot). */
  stopped: boolean;
  records_in: number;
  records_out: number;
  batches: number;
  cache_hits: number;
  last_rtt_ms: number;
  failures: number;
  dlq_records: number;
  /** Messages of the input topic not yet acknowledged by the group (as this worker's bus sees it). */
  lag: number;
  last_flush_ts: number | null;
  /** Process memory at the snapshot. */
  rss_bytes: number;
  heap_used_bytes: number;
}

/** Folder of the snapshots. */
export function workerMetricsDir(root: string): string {
  return join(workspacePaths(root).reportsDir, "embed_workers");
}

/** Writes one snapshot. */
export async function writeWorkerMetrics(root: string, m: EmbedWorkerMetrics): Promise<void> {
  await Deno.mkdir(workerMetricsDir(root), { recursive: true });
  await atomicWriteJson(join(workerMetricsDir(root), `${m.worker}.json`), m);
}

/**
 * Reads the snapshots of running workers and of those that stopped within `keepStoppedSec` (default 600);
 * a worker whose snapshot is older than `staleSec` (default 30) without `stopped` is reported as stopped
 * (it was killed).
 */
export async function readWorkerMetrics(
  root: string,
  options: { staleSec?: number; keepStoppedSec?: number } = {},
): Promise<EmbedWorkerMetrics[]> {
  const dir = workerMetricsDir(root);
  const now = Date.now() / 1000;
  const out: EmbedWorkerMetrics[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    try {
      const m = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as EmbedWorkerMetrics;
      if (!m.stopped && now - m.ts > (options.staleSec ?? 30)) m.stopped = true;
      if (m.stopped && now - m.ts > (options.keepStoppedSec ?? 600)) continue;
      out.push(m);
    } catch { /* being replaced or foreign */ }
  }
  return out.sort((a, b) => a.started_ts - b.started_ts);
}

/**
 * Writes the bus's metrics snapshot every `BUS_METRICS_INTERVAL` seconds (default 30) to
 * `<workspace>/.dspy_reports/bus_metrics.json` (pretty-printed, replaced atomically) and appends it as one line
 * to `bus_metrics.jsonl`, each with a `ts` (seconds since the epoch) and the writer's `pid` (several
 * long-running processes of one workspace, e.g. `up` and a `bus consume`, each write their own bus).
 *
 * @module
 */

import { join } from "node:path";
import { appendJsonLine, atomicWriteJson } from "../core/atomic.ts";
import { workspacePaths } from "../core/workspace.ts";
import type { BusMetrics } from "./types.ts";

/** A running writer. */
export interface MetricsWriter {
  /** Writes one snapshot now. */
  writeNow(): Promise<void>;
  /** Stops the timer and waits for a write in progress. */
  stop(): Promise<void>;
}

/** Reads `BUS_METRICS_INTERVAL` (seconds; ≤ 0 disables; default 30). */
export function metricsIntervalFromEnv(): number {
  const raw = Deno.env.get("BUS_METRICS_INTERVAL");
  if (raw === undefined || raw.trim() === "") return 30;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    console.error(`warning: BUS_METRICS_INTERVAL='${raw}' is not a number; using 30 seconds`);
    return 30;
  }
  return n;
}

/** Where snapshots go. */
export function metricsPaths(workspace: string): { json: string; jsonl: string } {
  const { reportsDir } = workspacePaths(workspace);
  return { json: join(reportsDir, "bus_metrics.json"), jsonl: join(reportsDir, "bus_metrics.jsonl") };
}

/** Starts writing snapshots of `metrics()`; intervals below 1 second are raised to 1 second. */
export function startMetricsWriter(
  workspace: string,
  metrics: () => BusMetrics,
  intervalSec: number,
): MetricsWriter {
  const paths = metricsPaths(workspace);
  let writing: Promise<void> | null = null;
  const writeNow = async () => {
    const snapshot = { ts: Date.now() / 1000, pid: Deno.pid, ...metrics() };
    await atomicWriteJson(paths.json, snapshot);
    await appendJsonLine(paths.jsonl, snapshot);
  };
  const tick = () => {
    if (writing) return;
    writing = writeNow().catch((err) => {
      console.error(`warning: could not write bus metrics: ${err instanceof Error ? err.message : err}`);
    }).finally(() => (writing = null));
  };
  const timer = intervalSec > 0 ? setInterval(tick, Math.max(1, intervalSec) * 1000) : null;
  return {
    writeNow,
    async stop() {
      if (timer !== null) clearInterval(timer);
      if (writing) await writing;
    },
  };
}

/** Reads the last snapshot written by any process, or null. */
export async function readMetricsSnapshot(
  workspace: string,
): Promise<(BusMetrics & { ts: number; pid?: number }) | null> {
  try {
    return JSON.parse(await Deno.readTextFile(metricsPaths(workspace).json));
  } catch {
    return null;
  }
}

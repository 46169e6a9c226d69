/**
 * The operations the CLI and the routes call: start (validate, confine paths, queue, kick the runner),
 * follow (poll a record until it ends), and compare (a metric × experiment table).
 *
 * @module
 */

import { confineSpec } from "./schedules.ts";
import { experimentRunner } from "./runner.ts";
import { createExperiment, requireExperiment } from "./store.ts";
import { type ExperimentRecord, type ExperimentSpec, isTerminal } from "./types.ts";

/**
 * Queues an experiment after checking its paths, and kicks this process's runner (it runs now when no
 * other run is going in any process of the workspace). `until`: this process only runs the queue up to
 * this experiment (the CLI), not later runs.
 */
export async function startExperiment(
  workspace: string,
  spec: ExperimentSpec,
  options: { trigger: string; kick?: boolean; until?: boolean },
): Promise<ExperimentRecord> {
  const confined = await confineSpec(workspace, spec);
  const rec = await createExperiment(workspace, confined, { trigger: options.trigger });
  if (options.kick !== false) void experimentRunner(workspace).kick(options.until ? { until: rec.id } : {});
  return rec;
}

/**
 * The record as callers should see it: when it has ended and this process ran it, only once the run is
 * finished here (its history line and lock written), so a caller that reads the history next finds it.
 */
export async function readExperiment(workspace: string, id: string): Promise<ExperimentRecord> {
  const rec = await requireExperiment(workspace, id);
  if (!isTerminal(rec.status)) return rec;
  await experimentRunner(workspace).finished(id);
  return rec;
}

/** Yields the record every `intervalMs` until it is terminal (the last value yielded is terminal). */
export async function* followExperiment(
  workspace: string,
  id: string,
  options: { intervalMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<ExperimentRecord> {
  while (true) {
    const rec = await readExperiment(workspace, id);
    yield rec;
    if (isTerminal(rec.status) || options.signal?.aborted) return;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

/** A side-by-side comparison: one row per metric, one column per experiment. */
export interface Comparison {
  ids: string[];
  rows: { metric: string; values: (string | number | boolean | null)[] }[];
}

const HEAD = ["kind", "status", "trigger", "model", "backend", "batch_size", "dataset_path", "env", "steps"];

function cell(v: unknown): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  return JSON.stringify(v);
}

/** Builds the table for `experiments compare ID ID...`. */
export async function compareExperiments(workspace: string, ids: string[]): Promise<Comparison> {
  const recs = await Promise.all(ids.map((id) => requireExperiment(workspace, id)));
  const get = (r: ExperimentRecord, k: string): unknown => {
    const p = r.params as unknown as Record<string, unknown>;
    if (k === "kind" || k === "status" || k === "trigger") return r[k];
    if (k === "model" || k === "backend" || k === "batch_size") return r.metrics?.[k] ?? p[k] ?? p.model_path;
    return p[k];
  };
  const metricKeys: string[] = [];
  for (const r of recs) {
    for (const [k, v] of Object.entries(r.metrics ?? {})) {
      if (HEAD.includes(k) || metricKeys.includes(k)) continue;
      if (typeof v === "object" && v !== null) continue;
      metricKeys.push(k);
    }
  }
  const rows = HEAD.filter((k) => recs.some((r) => get(r, k) !== undefined && get(r, k) !== null))
    .map((metric) => ({ metric, values: recs.map((r) => cell(get(r, metric))) }));
  for (const k of metricKeys) rows.push({ metric: k, values: recs.map((r) => cell(r.metrics?.[k])) });
  rows.push({
    metric: "duration_s",
    values: recs.map((r) => r.started && r.finished ? Math.round((r.finished - r.started) / 10) / 100 : null),
  });
  return { ids: recs.map((r) => r.id), rows };
}

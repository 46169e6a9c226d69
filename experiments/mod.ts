/**
 * Experiments: persisted runs (`embed`, `rl`, `sweep`) queued one at a time across the workspace's
 * processes and executed off the main thread, their logs and history under `.dspy_reports/experiments/`,
 * and named cron schedules that start them (`Deno.cron` in the `up` process). The CLI
 * (`cli/commands/experiments*.ts`) and the routes (`server/routes/experiments.ts`) import only this file.
 *
 * @example
 * ```ts
 * import { followExperiment, specFromArgs, startExperiment } from "../experiments/mod.ts";
 * const rec = await startExperiment(ws, specFromArgs(["run", "embed", "--dataset", "q.jsonl"]), { trigger: "cli" });
 * for await (const r of followExperiment(ws, rec.id)) console.log(r.status, r.progress);
 * ```
 *
 * @module
 */

export * from "./types.ts";
export { CRON_FORM, type CronSpec, CronSyntaxError, nextFire, parseCron } from "./cron.ts";
export {
  DEFAULT_BATCH_SIZE,
  embedParamsFrom,
  RL_ENVS,
  rlParamsFrom,
  RUN_USAGE,
  specFrom,
  specFromArgs,
  sweepParamsFrom,
} from "./params.ts";
export { confinePath, ExperimentPathError, maxDatasetBytes, type PathRefusal } from "./paths.ts";
export { isJsonlPath, loadDataset, type LoadedDataset, previewDataset } from "./dataset.ts";
export { computeEmbedMetrics, type EmbedMetrics, percentile } from "./metrics.ts";
export {
  appendLog,
  EXPERIMENTS_DIR,
  historyFile,
  type HistoryRow,
  logPathOf,
  readHistory,
  readLogLines,
} from "./logs.ts";
export {
  cancelExperiment,
  ExperimentNotFoundError,
  finishedHistory,
  flushPendingHistory,
  getExperiment,
  listExperiments,
  recoverInterrupted,
  requireExperiment,
  STALE_MS,
} from "./store.ts";
export { embedInWorker, ExperimentRunner, experimentRunner, stopAllRunners } from "./runner.ts";
export {
  addSchedule,
  checkScheduleName,
  fireSchedule,
  getSchedule,
  lastFiring,
  listSchedules,
  removeSchedule,
  scheduleNextFire,
  ScheduleNotFoundError,
  type Scheduler,
  setSchedulePaused,
  startScheduler,
} from "./schedules.ts";
export {
  compareExperiments,
  type Comparison,
  followExperiment,
  readExperiment,
  startExperiment,
} from "./api.ts";

/**
 * The shapes of experiments and schedules as they are stored in KV and returned by the API: one
 * {@link ExperimentRecord} per run (a sweep has one per cell, linked by `parent`), one
 * {@link ScheduleRecord} per named schedule.
 *
 * @module
 */

/** What an experiment does. */
export type ExperimentKind = "embed" | "rl" | "sweep";

/** Where an experiment is in its life. `interrupted`: its process died while it ran. */
export type ExperimentStatus = "queued" | "running" | "done" | "failed" | "cancelled" | "interrupted";

/** Statuses after which nothing changes. */
export const TERMINAL_STATUSES: readonly ExperimentStatus[] = ["done", "failed", "cancelled", "interrupted"];

/** True for a finished status. */
export function isTerminal(status: ExperimentStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Parameters of an `embed` experiment (validated; see `params.ts`). */
export interface EmbedParams {
  /** Dataset path relative to the workspace (JSONL `{"text"}` a line, or TXT a text a line). */
  dataset_path: string;
  backend: "local" | "use" | "infermesh" | "hash";
  /**
   * Model id: a Hugging Face id (local), the InferMesh model, `hash-<dim>`, or for use
   * `universal-sentence-encoder-lite[:MODE]` (the default).
   */
  model?: string;
  /** Local model folder, relative to the workspace. */
  model_path?: string;
  infermesh_url?: string;
  batch_size: number;
  /** 0 = every text. */
  max_count: number;
  normalize: boolean;
  /** Write the vectors to the workspace's vector store (`.dspy_index/embed_store`). */
  store: boolean;
}

/** Parameters of an `rl` experiment: a PPO run on a built-in env. */
export interface RlParams {
  env: string;
  steps: number;
  seed?: number;
  n_envs?: number;
  lr?: number;
  entropy_coef?: number;
  hidden?: number[];
}

/** Parameters of a `sweep`: the embed grid models × batch sizes. */
export interface SweepParams extends Omit<EmbedParams, "batch_size" | "model" | "model_path"> {
  models: string[];
  batch_sizes: number[];
}

/** A kind with its parameters. */
export type ExperimentSpec =
  | { kind: "embed"; params: EmbedParams }
  | { kind: "rl"; params: RlParams }
  | { kind: "sweep"; params: SweepParams };

/** Progress of a running experiment. */
export interface ExperimentProgress {
  done: number;
  total: number;
  /** Items (texts or env steps) per second so far. */
  rate?: number;
}

/** The process that runs an experiment (for the `interrupted` check). */
export interface ExperimentOwner {
  pid: number;
  host: string;
  /** Epoch ms of the last sign of life. */
  heartbeat: number;
}

/** One experiment as stored in KV (`["experiments", "rec", id]`). */
export interface ExperimentRecord {
  id: string;
  kind: ExperimentKind;
  params: EmbedParams | RlParams | SweepParams;
  status: ExperimentStatus;
  /** `cli`, `api` or `cron:<schedule name>`. */
  trigger: string;
  /** Epoch ms. */
  created: number;
  started: number | null;
  finished: number | null;
  progress: ExperimentProgress | null;
  metrics: Record<string, unknown> | null;
  error: string | null;
  /** The sweep this run is a cell of. */
  parent?: string;
  /** A sweep's cells, in order. */
  children?: string[];
  owner?: ExperimentOwner;
  /** Set by `cancel` while the run is going; its runner stops it. */
  cancel_requested?: boolean;
  /** The log file, relative to the workspace. */
  log: string;
}

/** The outcome of one schedule firing. */
export interface ScheduleFiring {
  /** Epoch ms. */
  ts: number;
  outcome: "started" | "skipped" | "error";
  experiment?: string;
  reason?: string;
}

/** One schedule as stored in KV (`["experiments", "schedule", name]`). */
export interface ScheduleRecord {
  name: string;
  cron: string;
  spec: ExperimentSpec;
  /** The command line after `--`, as given (display). */
  args: string[];
  paused: boolean;
  created: number;
  updated: number;
  /** The experiment of the latest firing that started one. */
  last_experiment: string | null;
  /** The latest firings, newest last (at most 20). */
  firings: ScheduleFiring[];
  fired: number;
  skipped: number;
}

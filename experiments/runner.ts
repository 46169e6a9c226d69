/**
 * The queue runner: one per process and workspace ({@link experimentRunner}). `kick()` starts a loop that
 * takes the oldest queued experiment when no live process holds the workspace's experiment lock (so runs
 * go one at a time, in order, across the CLI and the `up` server), runs it after `guard()`, and repeats
 * until the queue is empty. While another process runs one, it waits and polls.
 *
 * A run executes off the main thread: `embed` and sweep cells in a Worker (`embed_worker.ts`), `rl` in the
 * trainer's own Worker (`rl/mod.ts`). Every second the runner refreshes its heartbeat and checks the
 * record's `cancel_requested`; a cancel terminates the Worker (and, for a sweep, the running cell and the
 * cells still queued). Progress goes to the record at most every 250 ms; log lines to `<id>.log`.
 *
 * @module
 */

import { guard, InsufficientResourcesError } from "../core/guard.ts";
import { errorMessage } from "../core/errors.ts";
import { workspacePaths } from "../core/workspace.ts";
import { trainPpoRun } from "../rl/mod.ts";
import type { EmbedWorkerRequest } from "./embed_worker.ts";
import { appendLog } from "./logs.ts";
import { confinePath } from "./paths.ts";
import {
  claimExperiment,
  createExperiment,
  getExperiment,
  heartbeat,
  nextQueued,
  recoverInterrupted,
  releaseLock,
  selfOwner,
  updateExperiment,
} from "./store.ts";
import {
  type EmbedParams,
  type ExperimentProgress,
  type ExperimentRecord,
  isTerminal,
  type RlParams,
  type SweepParams,
} from "./types.ts";

/** Thrown inside a run when it was cancelled. */
class CancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "CancelledError";
  }
}

/** A failure the user can fix (bad dataset, unreachable InferMesh): no stack in the log. */
class RunError extends Error {}

interface RunHooks {
  signal: AbortSignal;
  progress(p: ExperimentProgress): void;
  log(line: string): void;
}

/** Runs an embed experiment's work in a Worker; resolves with the metrics. */
export function embedInWorker(
  workspace: string,
  id: string,
  params: EmbedParams,
  hooks: RunHooks,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (hooks.signal.aborted) return reject(new CancelledError());
    const worker = new Worker(new URL("./embed_worker.ts", import.meta.url).href, { type: "module" });
    const onAbort = () => {
      worker.terminate();
      reject(new CancelledError());
    };
    hooks.signal.addEventListener("abort", onAbort, { once: true });
    const finish = () => {
      hooks.signal.removeEventListener("abort", onAbort);
      worker.terminate();
    };
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data as Record<string, unknown>;
      switch (m.type) {
        case "start":
          hooks.log(
            `[start] texts=${m.total} model=${m.model} backend=${m.backend} batch=${params.batch_size}` +
              (m.skipped ? ` skipped_lines=${m.skipped}` : ""),
          );
          hooks.progress({ done: 0, total: m.total as number, rate: 0 });
          break;
        case "progress":
          hooks.progress({ done: m.done as number, total: m.total as number, rate: m.rate as number });
          break;
        case "log":
          hooks.log(String(m.line));
          break;
        case "done":
          finish();
          resolve(m.metrics as Record<string, unknown>);
          break;
        case "error":
          finish();
          reject(m.user ? new RunError(String(m.message)) : new Error(String(m.message)));
          break;
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      finish();
      reject(new Error(`the embed worker crashed: ${e.message}`));
    };
    worker.postMessage({ type: "run", workspace, id, params } satisfies EmbedWorkerRequest);
  });
}

async function runRl(workspace: string, params: RlParams, hooks: RunHooks): Promise<Record<string, unknown>> {
  let lastLog = 0;
  const { summary } = await trainPpoRun({
    env: params.env,
    steps: params.steps,
    ...(params.seed !== undefined ? { seed: params.seed } : {}),
    ...(params.n_envs !== undefined ? { nEnvs: params.n_envs } : {}),
    ...(params.lr !== undefined ? { lr: params.lr } : {}),
    ...(params.entropy_coef !== undefined ? { entropyCoef: params.entropy_coef } : {}),
    ...(params.hidden !== undefined ? { hidden: params.hidden } : {}),
  }, {
    rlDir: workspacePaths(workspace).rlDir,
    kind: "ppo",
    signal: hooks.signal,
    onLog: (e) => {
      hooks.progress({ done: e.step, total: params.steps, rate: e.steps_per_s });
      if (performance.now() - lastLog > 1000) {
        lastLog = performance.now();
        hooks.log(
          `[progress] step ${e.step}/${params.steps} avg_return=${e.avg_reward?.toFixed(2) ?? "-"} ` +
            `steps/s=${Math.round(e.steps_per_s)}`,
        );
      }
    },
  });
  if (hooks.signal.aborted) throw new CancelledError();
  return {
    run_id: summary.run_id,
    env: summary.env,
    env_steps: summary.env_steps,
    steps_per_s: summary.steps_per_s,
    mean_return: summary.mean_return_last100,
    best_avg: summary.best_avg,
    episodes: summary.episodes,
    solved_at_step: summary.solved_at_step,
    seconds: summary.wall_s,
  };
}

/** Creates a sweep's queued cells (one embed run per model × batch size). */
export async function createSweepCells(workspace: string, sweep: ExperimentRecord): Promise<string[]> {
  const p = sweep.params as SweepParams;
  const ids: string[] = [];
  for (const model of p.models) {
    for (const batch_size of p.batch_sizes) {
      const { models: _m, batch_sizes: _b, ...common } = p;
      const cell: EmbedParams = {
        ...common,
        batch_size,
        ...(p.backend === "local" ? { model_path: model } : { model }),
      };
      const rec = await createExperiment(workspace, { kind: "embed", params: cell }, {
        trigger: sweep.trigger,
        parent: sweep.id,
      });
      ids.push(rec.id);
    }
  }
  return ids;
}

/** Runs one experiment: a claimed record. Never throws; the record ends terminal. */
async function execute(workspace: string, rec: ExperimentRecord, signal: AbortSignal): Promise<void> {
  const ac = new AbortController();
  const onStop = () => ac.abort();
  signal.addEventListener("abort", onStop, { once: true });
  const logs: string[] = [];
  let logChain = Promise.resolve();
  const log = (id: string, line: string) => {
    logs.push(line);
    logChain = logChain.then(() => appendLog(workspace, id, line)).catch(() => {});
  };
  const children = new Set<string>();
  let pending: ExperimentProgress | null = null;
  let lastWrite = 0;
  const progressFor = (id: string) => (p: ExperimentProgress) => {
    pending = p;
    const now = performance.now();
    if (now - lastWrite < 250 && p.done < p.total) return;
    lastWrite = now;
    void updateExperiment(workspace, id, (r) => r.status === "running" ? { progress: p } : null).catch(
      () => {},
    );
  };
  const beat = setInterval(async () => {
    try {
      const r = await heartbeat(workspace, rec.id);
      for (const c of children) await heartbeat(workspace, c);
      if (r?.cancel_requested) ac.abort();
    } catch { /* KV busy: next beat */ }
  }, 1000);
  const p = rec.params as unknown as Record<string, unknown>;
  log(
    rec.id,
    `[exp ${rec.id}] kind=${rec.kind} trigger=${rec.trigger}` +
      (p.dataset_path ? ` dataset=${p.dataset_path}` : "") +
      (p.model ? ` model=${p.model}` : "") + (p.model_path ? ` model_path=${p.model_path}` : "") +
      (p.batch_size ? ` batch=${p.batch_size}` : "") +
      (p.models
        ? ` models=${(p.models as string[]).join(",")} batch_sizes=${(p.batch_sizes as number[]).join(",")}`
        : "") +
      (p.env ? ` env=${p.env} steps=${p.steps}` : "") +
      (p.normalize !== undefined ? ` normalize=${p.normalize}` : ""),
  );
  let status: ExperimentRecord["status"] = "done";
  let error: string | null = null;
  let metrics: Record<string, unknown> | null = null;
  try {
    await guard(workspace, { operation: `experiment ${rec.id}` });
    if (rec.kind !== "rl") {
      const ep = rec.params as EmbedParams;
      await confinePath(workspace, ep.dataset_path, { label: "dataset_path" });
      if (ep.model_path) await confinePath(workspace, ep.model_path, { label: "model_path", expect: "dir" });
    }
    const hooks = (id: string): RunHooks => ({
      signal: ac.signal,
      progress: progressFor(id),
      log: (line) => log(id, line),
    });
    if (rec.kind === "embed") {
      metrics = await embedInWorker(workspace, rec.id, rec.params as EmbedParams, hooks(rec.id));
      if (metrics.embedded === 0) {
        throw new RunError(`every batch failed: ${metrics.last_error ?? "see the log"}`);
      }
    } else if (rec.kind === "rl") {
      metrics = await runRl(workspace, rec.params as RlParams, hooks(rec.id));
    } else {
      metrics = await runSweep(workspace, rec, ac.signal, children, log, progressFor(rec.id));
    }
  } catch (err) {
    if (err instanceof CancelledError || ac.signal.aborted) {
      status = signal.aborted ? "interrupted" : "cancelled";
      error = signal.aborted ? "interrupted: the process running it stopped" : "cancelled";
    } else {
      status = "failed";
      error = errorMessage(err);
      if (err instanceof InsufficientResourcesError) error = err.message;
    }
  } finally {
    clearInterval(beat);
    signal.removeEventListener("abort", onStop);
  }
  if (status === "done") {
    const m = metrics ?? {};
    log(
      rec.id,
      rec.kind === "embed"
        ? `[done] items=${m.texts} seconds=${m.seconds} rate=${m.texts_per_s}/s failures=${m.failures} dims=${m.dims}`
        : rec.kind === "rl"
        ? `[done] steps=${m.env_steps} mean_return=${m.mean_return} steps/s=${m.steps_per_s}`
        : `[done] best=${JSON.stringify(m.best)}`,
    );
  } else log(rec.id, `[${status}] ${error}`);
  await logChain;
  const final = pending as ExperimentProgress | null;
  await updateExperiment(workspace, rec.id, {
    status,
    error,
    metrics,
    finished: Date.now(),
    ...(final ? { progress: status === "done" ? { ...final, done: final.total } : final } : {}),
  });
}

async function runSweep(
  workspace: string,
  rec: ExperimentRecord,
  signal: AbortSignal,
  running: Set<string>,
  log: (id: string, line: string) => void,
  progress: (p: ExperimentProgress) => void,
): Promise<Record<string, unknown>> {
  let cells = rec.children ?? [];
  if (cells.length === 0) {
    cells = await createSweepCells(workspace, rec);
    await updateExperiment(workspace, rec.id, { children: cells });
  }
  const p = rec.params as SweepParams;
  log(rec.id, `[sweep ${rec.id}] dataset=${p.dataset_path} cells=${cells.length}`);
  const results: Record<string, unknown>[] = [];
  let i = 0;
  try {
    for (const cellId of cells) {
      if (signal.aborted) throw new CancelledError();
      const cell = await updateExperiment(
        workspace,
        cellId,
        (r) => r.status === "queued" ? { status: "running", started: Date.now(), owner: selfOwner() } : null,
      );
      if (!cell || cell.status !== "running") continue;
      running.add(cellId);
      const ep = cell.params as EmbedParams;
      const cellLog = (line: string) => log(cellId, line);
      cellLog(`[exp ${cellId}] sweep=${rec.id} model=${ep.model ?? ep.model_path} batch=${ep.batch_size}`);
      let status: ExperimentRecord["status"] = "done";
      let error: string | null = null;
      let metrics: Record<string, unknown> | null = null;
      let last: ExperimentProgress | null = null;
      try {
        metrics = await embedInWorker(workspace, cellId, ep, {
          signal,
          log: cellLog,
          progress: (pr) => {
            last = pr;
            progress({ done: i, total: cells.length, rate: pr.rate });
          },
        });
        if (metrics.embedded === 0) throw new RunError(`every batch failed: ${metrics.last_error}`);
        cellLog(`[done] items=${metrics.texts} rate=${metrics.texts_per_s}/s`);
      } catch (err) {
        status = signal.aborted ? "cancelled" : "failed";
        error = signal.aborted ? "cancelled with its sweep" : errorMessage(err);
        cellLog(`[${status}] ${error}`);
      }
      running.delete(cellId);
      await updateExperiment(workspace, cellId, {
        status,
        error,
        metrics,
        finished: Date.now(),
        ...(last ? { progress: last } : {}),
      });
      i++;
      progress({ done: i, total: cells.length });
      const row = {
        id: cellId,
        model: ep.model ?? ep.model_path,
        batch_size: ep.batch_size,
        status,
        texts_per_s: metrics?.texts_per_s ?? null,
        batch_p50_ms: metrics?.batch_p50_ms ?? null,
        batch_p95_ms: metrics?.batch_p95_ms ?? null,
        failures: metrics?.failures ?? null,
        dims: metrics?.dims ?? null,
      };
      results.push(row);
      log(rec.id, `[result] ${JSON.stringify(row)}`);
      if (signal.aborted) throw new CancelledError();
    }
  } finally {
    for (const c of cells) {
      await updateExperiment(
        workspace,
        c,
        (r) =>
          r.status === "queued"
            ? { status: "cancelled", finished: Date.now(), error: "its sweep stopped" }
            : null,
      );
    }
  }
  const ok = results.filter((r) => r.status === "done");
  if (ok.length === 0) throw new RunError("every sweep cell failed; see the cells' logs");
  const best = ok.reduce((a, b) => (Number(b.texts_per_s) > Number(a.texts_per_s) ? b : a));
  return { cells: results.length, failed_cells: results.length - ok.length, best, results };
}

/** The per-process, per-workspace queue runner. */
export class ExperimentRunner {
  readonly workspace: string;
  #loop: Promise<void> | null = null;
  #stop = new AbortController();
  #pollMs: number;
  #until = new Set<string>();
  #untilOnly = true;
  #executing = new Map<string, Promise<void>>();
  #kicked = false;
  constructor(workspace: string, options: { pollMs?: number } = {}) {
    this.workspace = workspace;
    this.#pollMs = options.pollMs ?? 500;
  }

  /** True while the loop runs (a run in progress here, or waiting for another process's). */
  get busy(): boolean {
    return this.#loop !== null;
  }

  /**
   * Starts the loop unless it runs; resolves when the queue is empty (or the runner stopped). With
   * `until`, a runner that only serves this caller (the CLI) stops claiming runs once that experiment
   * has ended, instead of working through runs queued later by others.
   */
  kick(options: { until?: string } = {}): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.resolve();
    if (options.until) this.#until.add(options.until);
    else this.#untilOnly = false;
    this.#kicked = true;
    this.#loop ??= this.#drive();
    return this.#loop;
  }

  /**
   * Runs the loop again while kicks arrived during it: a loop about to return (nothing queued, or its
   * `until` runs ended) would otherwise leave a run queued by a kick at that moment with no runner.
   */
  async #drive(): Promise<void> {
    try {
      while (this.#kicked && !this.#stop.signal.aborted) {
        this.#kicked = false;
        await this.#run();
      }
    } finally {
      this.#loop = null;
    }
  }

  async #run(): Promise<void> {
    const ws = this.workspace;
    await recoverInterrupted(ws);
    while (!this.#stop.signal.aborted) {
      if (this.#untilOnly && this.#until.size > 0) {
        for (const u of [...this.#until]) {
          const r = await getExperiment(ws, u);
          if (!r || isTerminal(r.status)) this.#until.delete(u);
        }
        if (this.#until.size === 0) return;
      }
      const id = await nextQueued(ws);
      if (!id) return;
      const rec = await claimExperiment(ws, id);
      if (!rec) {
        await new Promise((r) => setTimeout(r, this.#pollMs));
        await recoverInterrupted(ws);
        continue;
      }
      const done = (async () => {
        try {
          await execute(ws, rec, this.#stop.signal);
        } finally {
          await releaseLock(ws, rec.id);
        }
      })();
      this.#executing.set(rec.id, done.catch(() => {}));
      try {
        await done;
      } finally {
        this.#executing.delete(rec.id);
      }
    }
  }

  /**
   * Resolves when this process has finished with a run: its end, history line and lock written. A follower
   * sees the terminal status in KV a moment before that (history reads still find the row: it is in the
   * store's outbox until the line is written).
   */
  finished(id: string): Promise<void> {
    return this.#executing.get(id) ?? Promise.resolve();
  }

  /** Stops the loop; a run in progress ends `interrupted`. Resolves when it has. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    runners.delete(this.workspace);
  }
}

const runners = new Map<string, ExperimentRunner>();

/** The runner of this process for a workspace (created on first use). */
export function experimentRunner(workspace: string): ExperimentRunner {
  let r = runners.get(workspace);
  if (!r) {
    r = new ExperimentRunner(workspace);
    runners.set(workspace, r);
  }
  return r;
}

/** Stops every runner of this process (shutdown, tests). */
export async function stopAllRunners(): Promise<void> {
  await Promise.all([...runners.values()].map((r) => r.stop()));
}

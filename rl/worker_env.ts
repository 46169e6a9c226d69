/**
 * Vector env whose envs live in Deno Workers: the `nEnvs` copies are split into contiguous slices, one per
 * worker, and every vector step sends each worker its actions and gathers the results. A worker that
 * crashes, or does not answer within the timeout, fails the pending call with an error naming the worker
 * and the cause; the vector env then refuses further calls instead of hanging.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { EnvSpec } from "./env.ts";
import type { GroupSnapshot, VectorEnv, VectorStep } from "./vector_env.ts";

/** Options for {@link createWorkerVectorEnv}. */
export interface WorkerVectorEnvOptions {
  /** The env each worker builds. */
  spec: EnvSpec;
  /** Total envs. */
  nEnvs: number;
  /** Worker count (default min(nEnvs, 2)); capped at nEnvs. */
  workers?: number;
  /**
   * Milliseconds a worker may take for one request before it is declared hung (default 120000; 0 = no
   * limit). Start-up (loading the env module) gets at least 60 s.
   */
  timeoutMs?: number;
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(err: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Raised when an env worker fails. */
export class EnvWorkerError extends UserError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EnvWorkerError";
  }
}

class EnvWorker {
  readonly index: number;
  readonly offset: number;
  readonly count: number;
  #worker: Worker;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #failure: Error | null = null;
  #timeoutMs: number;
  #closed = false;

  constructor(index: number, offset: number, count: number, timeoutMs: number) {
    this.index = index;
    this.offset = offset;
    this.count = count;
    this.#timeoutMs = timeoutMs;
    this.#worker = new Worker(new URL("./env_worker.ts", import.meta.url).href, { type: "module" });
    this.#worker.onmessage = (e: MessageEvent) => {
      const msg = e.data as { type: string; id: number; message?: string };
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (p.timer !== undefined) clearTimeout(p.timer);
      if (msg.type === "error") {
        p.reject(new EnvWorkerError(`env worker ${this.index} (envs ${this.#range()}): ${msg.message}`));
      } else p.resolve(msg as unknown as Record<string, unknown>);
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(
        new EnvWorkerError(`env worker ${this.index} (envs ${this.#range()}) crashed: ${e.message}`),
      );
    };
    this.#worker.onmessageerror = () => {
      this.#fail(new EnvWorkerError(`env worker ${this.index} sent a message that could not be read`));
    };
  }

  #range(): string {
    return this.count === 1 ? `${this.offset}` : `${this.offset}-${this.offset + this.count - 1}`;
  }

  #fail(err: Error): void {
    if (!this.#failure) this.#failure = err;
    for (const [id, p] of this.#pending) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(err);
      this.#pending.delete(id);
    }
    this.terminate();
  }

  request(msg: Record<string, unknown>, timeoutMs = this.#timeoutMs): Promise<Record<string, unknown>> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new EnvWorkerError(`env worker ${this.index} is closed`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.#fail(
            new EnvWorkerError(
              `env worker ${this.index} (envs ${this.#range()}) did not answer '${msg.type}' within ` +
                `${timeoutMs} ms; it was stopped (raise the timeout for slow envs)`,
            ),
          );
        }, timeoutMs);
      }
      this.#pending.set(id, p);
      this.#worker.postMessage({ ...msg, id });
    });
  }

  terminate(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
  }
}

class WorkerVectorEnv implements VectorEnv {
  readonly nEnvs: number;
  observationSize = 0;
  actionCount = 0;
  actionNames?: readonly string[];
  #workers: EnvWorker[];

  constructor(nEnvs: number, workers: EnvWorker[]) {
    this.nEnvs = nEnvs;
    this.#workers = workers;
  }

  async reset(seed?: number): Promise<Float64Array> {
    const parts = await Promise.all(this.#workers.map((w) => w.request({ type: "reset", seed })));
    const obs = new Float64Array(this.nEnvs * this.observationSize);
    parts.forEach((p, k) => obs.set(p.obs as Float64Array, this.#workers[k].offset * this.observationSize));
    return obs;
  }

  async step(actions: Int32Array): Promise<VectorStep> {
    const parts = await Promise.all(
      this.#workers.map((w) =>
        w.request({ type: "step", actions: actions.slice(w.offset, w.offset + w.count) })
      ),
    );
    const n = this.nEnvs;
    const out: VectorStep = {
      obs: new Float64Array(n * this.observationSize),
      rewards: new Float64Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      finalObs: new Array(n),
      episodes: [],
      infos: new Array(n),
    };
    parts.forEach((p, k) => {
      const w = this.#workers[k];
      out.obs.set(p.obs as Float64Array, w.offset * this.observationSize);
      out.rewards.set(p.rewards as Float64Array, w.offset);
      out.terminated.set(p.terminated as Uint8Array, w.offset);
      out.truncated.set(p.truncated as Uint8Array, w.offset);
      const finals = p.finalObs as (Float64Array | null)[];
      const infos = p.infos as Record<string, unknown>[] | null;
      for (let i = 0; i < w.count; i++) {
        out.finalObs[w.offset + i] = finals[i];
        out.infos[w.offset + i] = infos ? infos[i] : {};
      }
      for (const ep of p.episodes as VectorStep["episodes"]) out.episodes.push(ep);
    });
    return out;
  }

  async snapshot(): Promise<unknown> {
    const parts = await Promise.all(this.#workers.map((w) => w.request({ type: "snapshot" })));
    const snaps = parts.map((p) => p.snapshot as GroupSnapshot | null);
    if (snaps.some((s) => s === null)) return null;
    return {
      envs: snaps.flatMap((s) => s!.envs),
      returns: snaps.flatMap((s) => s!.returns),
      lengths: snaps.flatMap((s) => s!.lengths),
    } satisfies GroupSnapshot;
  }

  async restore(state: unknown): Promise<void> {
    const s = state as GroupSnapshot;
    if (s.envs.length !== this.nEnvs) {
      throw new UserError(`checkpoint holds ${s.envs.length} envs but this run has ${this.nEnvs}`);
    }
    await Promise.all(this.#workers.map((w) =>
      w.request({
        type: "restore",
        snapshot: {
          envs: s.envs.slice(w.offset, w.offset + w.count),
          returns: s.returns.slice(w.offset, w.offset + w.count),
          lengths: s.lengths.slice(w.offset, w.offset + w.count),
        },
      })
    ));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((w) => w.request({ type: "close" })));
    for (const w of this.#workers) w.terminate();
  }
}

/**
 * Starts the workers, builds the envs in them and returns the vector env. Fails with a clear error when a
 * worker cannot build its env.
 *
 * @example
 * ```ts
 * const vec = await createWorkerVectorEnv({ spec: builtinEnvSpec("cartpole"), nEnvs: 4, workers: 2 });
 * const obs = await vec.reset(1);
 * await vec.close();
 * ```
 */
export async function createWorkerVectorEnv(options: WorkerVectorEnvOptions): Promise<VectorEnv> {
  const nEnvs = options.nEnvs;
  if (!Number.isInteger(nEnvs) || nEnvs < 1) {
    throw new UserError(`nEnvs must be a whole number ≥ 1, got ${nEnvs}`);
  }
  const nWorkers = Math.max(1, Math.min(options.workers ?? Math.min(nEnvs, 2), nEnvs));
  const workers: EnvWorker[] = [];
  let offset = 0;
  for (let k = 0; k < nWorkers; k++) {
    const count = Math.floor(nEnvs / nWorkers) + (k < nEnvs % nWorkers ? 1 : 0);
    workers.push(new EnvWorker(k, offset, count, options.timeoutMs ?? 120_000));
    offset += count;
  }
  const vec = new WorkerVectorEnv(nEnvs, workers);
  try {
    const infos = await Promise.all(
      // Start-up loads modules, which can be slow on a busy machine: allow at least a minute.
      workers.map((w) =>
        w.request(
          { type: "init", spec: options.spec, offset: w.offset, count: w.count },
          options.timeoutMs === 0 ? 0 : Math.max(options.timeoutMs ?? 120_000, 60_000),
        )
      ),
    );
    vec.observationSize = infos[0].observationSize as number;
    vec.actionCount = infos[0].actionCount as number;
    vec.actionNames = infos[0].actionNames as string[] | undefined;
  } catch (err) {
    for (const w of workers) w.terminate();
    throw err;
  }
  return vec;
}

/**
 * Vectorised envs: `nEnvs` copies stepped together, finished ones reset automatically (the observation
 * returned for a finished env is the first one of its next episode; the last one is in `finalObs`).
 * {@link EnvGroup} holds the bookkeeping for a slice of envs and is shared by the in-thread vector env
 * (tests, `nEnvs = 1`, cheap envs) and by each worker of {@link createWorkerVectorEnv}.
 *
 * @module
 */

import { type Env, type EnvSpec, makeEnvFromSpec } from "./env.ts";

/** A finished episode. */
export interface EpisodeEnd {
  /** Index of the env in the vector. */
  env: number;
  /** Undiscounted return. */
  return: number;
  /** Steps. */
  length: number;
}

/** What a vector step returns. Arrays are indexed by env; `obs` is row-major nEnvs × observationSize. */
export interface VectorStep {
  obs: Float64Array;
  rewards: Float64Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** The last observation of envs that finished on this step (before their reset), else null. */
  finalObs: (Float64Array | null)[];
  /** Episodes that ended on this step. */
  episodes: EpisodeEnd[];
  /** Per-env infos (empty objects unless the env reports something). */
  infos: Record<string, unknown>[];
}

/** `nEnvs` envs stepped as one. */
export interface VectorEnv {
  readonly nEnvs: number;
  readonly observationSize: number;
  readonly actionCount: number;
  readonly actionNames?: readonly string[];
  /** Resets every env; env i gets `seed + i` when a seed is given. Returns the observations. */
  reset(seed?: number): Promise<Float64Array>;
  /** Steps every env with its action, auto-resetting finished ones. */
  step(actions: Int32Array): Promise<VectorStep>;
  /** Exact state of all envs and episode counters, or null when an env cannot snapshot. */
  snapshot(): Promise<unknown>;
  /** Restores {@link VectorEnv.snapshot}. */
  restore(state: unknown): Promise<void>;
  /** Releases the envs (and workers). */
  close(): Promise<void>;
}

/** Result of stepping a group (`obs` and arrays cover the group's envs only). */
export type GroupStep = Omit<VectorStep, "episodes"> & { episodes: EpisodeEnd[] };

/** Snapshot of an {@link EnvGroup}. */
export interface GroupSnapshot {
  envs: unknown[];
  returns: number[];
  lengths: number[];
}

/** Bookkeeping for a contiguous slice of envs (`offset` is the index of the first in the whole vector). */
export class EnvGroup {
  readonly envs: Env[];
  readonly offset: number;
  readonly observationSize: number;
  #returns: Float64Array;
  #lengths: Int32Array;

  constructor(envs: Env[], offset = 0) {
    if (envs.length === 0) throw new Error("an env group needs at least one env");
    this.envs = envs;
    this.offset = offset;
    this.observationSize = envs[0].observationSize;
    for (const env of envs) {
      if (env.observationSize !== this.observationSize || env.actionCount !== envs[0].actionCount) {
        throw new Error("all envs of a vector must have the same observation size and action count");
      }
    }
    this.#returns = new Float64Array(envs.length);
    this.#lengths = new Int32Array(envs.length);
  }

  /** Resets all envs (env i of the whole vector gets `seed + i`). */
  async reset(seed?: number): Promise<Float64Array> {
    const size = this.observationSize;
    const obs = new Float64Array(this.envs.length * size);
    for (let i = 0; i < this.envs.length; i++) {
      const maybe = this.envs[i].reset(seed === undefined ? undefined : seed + this.offset + i);
      const res = maybe instanceof Promise ? await maybe : maybe;
      checkObs(res.obs, size, "reset");
      obs.set(res.obs, i * size);
      this.#returns[i] = 0;
      this.#lengths[i] = 0;
    }
    return obs;
  }

  /** Steps each env with `actions[k]` (k indexes the group), resetting finished envs. */
  async step(actions: ArrayLike<number>): Promise<GroupStep> {
    const n = this.envs.length;
    const size = this.observationSize;
    const out: GroupStep = {
      obs: new Float64Array(n * size),
      rewards: new Float64Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      finalObs: new Array(n).fill(null),
      episodes: [],
      infos: new Array(n),
    };
    for (let i = 0; i < n; i++) {
      const env = this.envs[i];
      const maybe = env.step(actions[i]);
      const res = maybe instanceof Promise ? await maybe : maybe;
      checkObs(res.obs, size, "step");
      const reward = Number(res.reward);
      if (!Number.isFinite(reward)) {
        throw new Error(`env ${this.offset + i} returned a non-finite reward ${res.reward}`);
      }
      out.rewards[i] = reward;
      out.infos[i] = res.info ?? {};
      this.#returns[i] += reward;
      this.#lengths[i]++;
      if (res.terminated || res.truncated) {
        out.terminated[i] = res.terminated ? 1 : 0;
        out.truncated[i] = res.terminated ? 0 : 1;
        out.finalObs[i] = Float64Array.from(res.obs);
        out.episodes.push({ env: this.offset + i, return: this.#returns[i], length: this.#lengths[i] });
        this.#returns[i] = 0;
        this.#lengths[i] = 0;
        const again = env.reset();
        const r2 = again instanceof Promise ? await again : again;
        checkObs(r2.obs, size, "reset");
        out.obs.set(r2.obs, i * size);
      } else {
        out.obs.set(res.obs, i * size);
      }
    }
    return out;
  }

  /** Snapshot, or null when an env has no `snapshot`. */
  snapshot(): GroupSnapshot | null {
    if (this.envs.some((e) => typeof e.snapshot !== "function" || typeof e.restore !== "function")) {
      return null;
    }
    return {
      envs: this.envs.map((e) => e.snapshot!()),
      returns: [...this.#returns],
      lengths: [...this.#lengths],
    };
  }

  /** Restores {@link EnvGroup.snapshot}. */
  restore(snap: GroupSnapshot): void {
    if (snap.envs.length !== this.envs.length) {
      throw new Error(`snapshot has ${snap.envs.length} envs, this group has ${this.envs.length}`);
    }
    this.envs.forEach((e, i) => e.restore!(snap.envs[i]));
    this.#returns.set(snap.returns);
    this.#lengths.set(snap.lengths);
  }

  /** Closes every env. */
  async close(): Promise<void> {
    for (const env of this.envs) await env.close?.();
  }
}

function checkObs(obs: ArrayLike<number>, size: number, where: string): void {
  if (!obs || obs.length !== size) {
    throw new Error(`env ${where} returned an observation of length ${obs?.length}, expected ${size}`);
  }
}

/** Vector env that steps its envs on the calling thread. */
export class InThreadVectorEnv implements VectorEnv {
  readonly nEnvs: number;
  readonly observationSize: number;
  readonly actionCount: number;
  readonly actionNames?: readonly string[];
  #group: EnvGroup;

  constructor(envs: Env[]) {
    this.#group = new EnvGroup(envs, 0);
    this.nEnvs = envs.length;
    this.observationSize = envs[0].observationSize;
    this.actionCount = envs[0].actionCount;
    this.actionNames = envs[0].actionNames;
  }

  reset(seed?: number): Promise<Float64Array> {
    return this.#group.reset(seed);
  }

  step(actions: Int32Array): Promise<VectorStep> {
    return this.#group.step(actions);
  }

  snapshot(): Promise<unknown> {
    return Promise.resolve(this.#group.snapshot());
  }

  restore(state: unknown): Promise<void> {
    this.#group.restore(state as GroupSnapshot);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.#group.close();
  }
}

/** Builds an in-thread vector env of `nEnvs` envs from a spec or a factory. */
export async function createInThreadVectorEnv(
  source: EnvSpec | (() => Env | Promise<Env>),
  nEnvs: number,
): Promise<InThreadVectorEnv> {
  const envs: Env[] = [];
  for (let i = 0; i < nEnvs; i++) {
    envs.push(typeof source === "function" ? await source() : await makeEnvFromSpec(source));
  }
  return new InThreadVectorEnv(envs);
}

/**
 * A k-armed bandit as a one-step env: every episode is a single pull, the reward is drawn from a normal
 * (or Bernoulli) distribution around the chosen arm's mean, and the observation is a constant vector.
 * Small and exact, so learning tests on it are fast and cannot pass by accident.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import { checkAction, type Env, type ResetResult, type StepResult } from "./env.ts";
import { Rng, type RngState } from "../learning/mod.ts";

/** Options for {@link makeBanditEnv}. */
export interface BanditEnvOptions {
  /** Mean reward of each arm (default `[0.1, 0.5, 0.9]`). */
  means?: number[];
  /** Standard deviation of the normal reward noise (default 0.1; ignored for Bernoulli). */
  noise?: number;
  /** Draw 0/1 rewards with P(1) = mean instead of normal noise. */
  bernoulli?: boolean;
  /** Pulls per episode (default 1). */
  episodeLength?: number;
  /** Seed of the env's generator. */
  seed?: number;
}

/** The bandit env. */
export class BanditEnv implements Env {
  readonly observationSize = 1;
  readonly actionCount: number;
  readonly actionNames: string[];
  readonly means: number[];
  readonly noise: number;
  readonly bernoulli: boolean;
  readonly episodeLength: number;
  #rng: Rng;
  #t = 0;

  constructor(options: BanditEnvOptions = {}) {
    this.means = options.means ?? [0.1, 0.5, 0.9];
    if (this.means.length < 1 || this.means.some((m) => !Number.isFinite(m))) {
      throw new UserError("bandit env needs at least one finite arm mean (means: [..])");
    }
    this.actionCount = this.means.length;
    this.actionNames = this.means.map((_, i) => `arm${i}`);
    this.noise = options.noise ?? 0.1;
    this.bernoulli = options.bernoulli ?? false;
    this.episodeLength = Math.max(1, options.episodeLength ?? 1);
    this.#rng = new Rng(options.seed ?? 0);
  }

  /** Starts an episode. */
  reset(seed?: number): ResetResult {
    if (seed !== undefined) this.#rng = new Rng(seed);
    this.#t = 0;
    return { obs: new Float64Array([1]), info: {} };
  }

  /** Pulls an arm. */
  step(action: number): StepResult {
    checkAction(action, this.actionCount);
    const mean = this.means[action];
    const reward = this.bernoulli
      ? (this.#rng.float() < mean ? 1 : 0)
      : mean + this.noise * this.#rng.normal();
    this.#t++;
    return {
      obs: new Float64Array([1]),
      reward,
      terminated: this.#t >= this.episodeLength,
      truncated: false,
      info: { arm: action },
    };
  }

  /** Generator and position. */
  snapshot(): { rng: RngState; t: number } {
    return { rng: this.#rng.state(), t: this.#t };
  }

  /** Restores {@link BanditEnv.snapshot}. */
  restore(snap: unknown): void {
    const s = snap as { rng: RngState; t: number };
    this.#rng = Rng.fromState(s.rng);
    this.#t = s.t;
  }
}

/** Env factory for specs and workers. */
export function makeBanditEnv(options: BanditEnvOptions = {}): BanditEnv {
  return new BanditEnv(options);
}

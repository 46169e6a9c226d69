/**
 * Envs that misbehave on purpose, built inside env workers by the worker tests: one throws from `step`,
 * one kills its worker with an uncaught error, one never answers, one cannot be built.
 *
 * @module
 */

import { CartPole, type Env } from "../../rl/mod.ts";

/** Throws from `step` after `after` steps (default 2). */
export function makeThrowingEnv(options: { after?: number } = {}): Env {
  const inner = new CartPole();
  let n = 0;
  return {
    observationSize: 4,
    actionCount: 2,
    reset: (seed?: number) => inner.reset(seed),
    step(action: number) {
      if (++n > (options.after ?? 2)) throw new Error("simulator exploded at step " + n);
      return inner.step(action);
    },
  };
}

/** On the first step, schedules an uncaught error that kills the worker, and never answers. */
export function makeCrashingEnv(): Env {
  const inner = new CartPole();
  return {
    observationSize: 4,
    actionCount: 2,
    reset: (seed?: number) => inner.reset(seed),
    step() {
      setTimeout(() => {
        throw new Error("native crash in the simulator");
      }, 0);
      return new Promise(() => {});
    },
  };
}

/** `step` never resolves. */
export function makeHangingEnv(): Env {
  const inner = new CartPole();
  return {
    observationSize: 4,
    actionCount: 2,
    reset: (seed?: number) => inner.reset(seed),
    step: () => new Promise(() => {}),
  };
}

/** The factory itself fails. */
export function makeBrokenEnv(): Env {
  throw new Error("missing simulator licence");
}

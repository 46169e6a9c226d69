/**
 * CartPole-v1 with the classic-control dynamics (Barto, Sutton & Anderson 1983, as in Gymnasium): a pole
 * on a cart, two actions (push left / right with 10 N), reward 1 per step, termination when |x| > 2.4 or
 * |θ| > 12°, truncation after 500 steps. Euler integration with τ = 0.02 s; resets draw each state
 * variable uniformly from [-0.05, 0.05].
 *
 * @module
 */

import { checkAction, type Env, type ResetResult, type StepResult } from "./env.ts";
import { Rng, type RngState } from "../learning/mod.ts";

const GRAVITY = 9.8;
const MASS_CART = 1.0;
const MASS_POLE = 0.1;
const TOTAL_MASS = MASS_CART + MASS_POLE;
const LENGTH = 0.5; // half the pole's length
const POLE_MASS_LENGTH = MASS_POLE * LENGTH;
const FORCE_MAG = 10.0;
const TAU = 0.02;
/** Angle beyond which the episode terminates: 12 degrees in radians. */
export const THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;
/** Cart position beyond which the episode terminates. */
export const X_THRESHOLD = 2.4;

/** Options for {@link makeCartPole}. */
export interface CartPoleOptions {
  /** Steps before truncation (default 500, as CartPole-v1). */
  maxSteps?: number;
  /** Seed of the env's own generator (default 0; `reset(seed)` reseeds). */
  seed?: number;
}

interface CartPoleSnapshot {
  state: number[];
  t: number;
  rng: RngState;
  done: boolean;
}

/** The CartPole-v1 environment. */
export class CartPole implements Env {
  readonly observationSize = 4;
  readonly actionCount = 2;
  readonly actionNames = ["left", "right"] as const;
  readonly maxSteps: number;
  #x = 0;
  #xDot = 0;
  #theta = 0;
  #thetaDot = 0;
  #t = 0;
  #done = true;
  #rng: Rng;

  constructor(options: CartPoleOptions = {}) {
    this.maxSteps = options.maxSteps ?? 500;
    this.#rng = new Rng(options.seed ?? 0);
  }

  /** Starts an episode. */
  reset(seed?: number): ResetResult {
    if (seed !== undefined) this.#rng = new Rng(seed);
    this.#x = this.#rng.uniform(-0.05, 0.05);
    this.#xDot = this.#rng.uniform(-0.05, 0.05);
    this.#theta = this.#rng.uniform(-0.05, 0.05);
    this.#thetaDot = this.#rng.uniform(-0.05, 0.05);
    this.#t = 0;
    this.#done = false;
    return { obs: this.#obs(), info: {} };
  }

  /** Sets the physical state directly (tests and known-transition checks). */
  setState(state: ArrayLike<number>): void {
    this.#x = state[0];
    this.#xDot = state[1];
    this.#theta = state[2];
    this.#thetaDot = state[3];
    this.#t = 0;
    this.#done = false;
  }

  /** Pushes the cart left (0) or right (1). */
  step(action: number): StepResult {
    checkAction(action, 2);
    if (this.#done) throw new Error("CartPole.step called after the episode ended: call reset() first");
    const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
    const cos = Math.cos(this.#theta);
    const sin = Math.sin(this.#theta);
    const temp = (force + POLE_MASS_LENGTH * this.#thetaDot * this.#thetaDot * sin) / TOTAL_MASS;
    const thetaAcc = (GRAVITY * sin - cos * temp) /
      (LENGTH * (4.0 / 3.0 - (MASS_POLE * cos * cos) / TOTAL_MASS));
    const xAcc = temp - (POLE_MASS_LENGTH * thetaAcc * cos) / TOTAL_MASS;
    this.#x += TAU * this.#xDot;
    this.#xDot += TAU * xAcc;
    this.#theta += TAU * this.#thetaDot;
    this.#thetaDot += TAU * thetaAcc;
    this.#t++;
    const terminated = this.#x < -X_THRESHOLD || this.#x > X_THRESHOLD ||
      this.#theta < -THETA_THRESHOLD || this.#theta > THETA_THRESHOLD;
    const truncated = !terminated && this.#t >= this.maxSteps;
    this.#done = terminated || truncated;
    return { obs: this.#obs(), reward: 1, terminated, truncated, info: {} };
  }

  /** Physics state, step count and generator. */
  snapshot(): CartPoleSnapshot {
    return {
      state: [this.#x, this.#xDot, this.#theta, this.#thetaDot],
      t: this.#t,
      rng: this.#rng.state(),
      done: this.#done,
    };
  }

  /** Restores {@link CartPole.snapshot}. */
  restore(snap: unknown): void {
    const s = snap as CartPoleSnapshot;
    [this.#x, this.#xDot, this.#theta, this.#thetaDot] = s.state;
    this.#t = s.t;
    this.#rng = Rng.fromState(s.rng);
    this.#done = s.done;
  }

  #obs(): Float64Array {
    const o = new Float64Array(4);
    o[0] = this.#x;
    o[1] = this.#xDot;
    o[2] = this.#theta;
    o[3] = this.#thetaDot;
    return o;
  }
}

/** Env factory for specs and workers. */
export function makeCartPole(options: CartPoleOptions = {}): CartPole {
  return new CartPole(options);
}

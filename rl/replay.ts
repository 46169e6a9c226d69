/**
 * The auxiliary replay buffer: a ring of the most recent `capacity` (observation, λ-return) pairs from
 * past rollouts. After each PPO update the trainer samples `batch` of them without replacement and takes
 * one extra Adam step on the critic's value loss ½·mean((V(s) − G)²), with its own optimizer state, so the
 * actor is untouched and the critic keeps fitting recent targets.
 *
 * @module
 */

import type { Rng } from "../learning/mod.ts";

/** The replay ring. */
export interface ReplayBuffer {
  capacity: number;
  obsSize: number;
  obs: Float64Array;
  targets: Float64Array;
  /** Filled entries (≤ capacity). */
  size: number;
  /** Next write position. */
  head: number;
}

/** Creates an empty buffer. */
export function createReplay(capacity: number, obsSize: number): ReplayBuffer {
  return {
    capacity,
    obsSize,
    obs: new Float64Array(Math.max(0, capacity) * obsSize),
    targets: new Float64Array(Math.max(0, capacity)),
    size: 0,
    head: 0,
  };
}

/** Appends `n` rows (oldest entries are overwritten). */
export function replayAdd(buf: ReplayBuffer, obs: Float64Array, targets: Float64Array, n: number): void {
  if (buf.capacity <= 0) return;
  const d = buf.obsSize;
  for (let r = 0; r < n; r++) {
    buf.obs.set(obs.subarray(r * d, r * d + d), buf.head * d);
    buf.targets[buf.head] = targets[r];
    buf.head = (buf.head + 1) % buf.capacity;
    if (buf.size < buf.capacity) buf.size++;
  }
}

/**
 * Samples `n` distinct entries into `outObs`/`outTargets`; returns how many were drawn (0 when the buffer
 * holds fewer than `n`).
 */
export function replaySample(
  buf: ReplayBuffer,
  n: number,
  rng: Rng,
  outObs: Float64Array,
  outTargets: Float64Array,
  scratch: Int32Array,
): number {
  if (n <= 0 || buf.size < n) return 0;
  const d = buf.obsSize;
  for (let i = 0; i < buf.size; i++) scratch[i] = i;
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(buf.size - i);
    const t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
    const k = scratch[i];
    outObs.set(buf.obs.subarray(k * d, k * d + d), i * d);
    outTargets[i] = buf.targets[k];
  }
  return n;
}

/**
 * The actor-critic: two separate MLPs (actor → categorical logits, critic → state value) in one flat
 * parameter vector, batched action sampling, and the PPO loss with its exact gradient (clipped surrogate,
 * value loss, entropy bonus). The gradient is written by hand and checked against finite differences in
 * the tests.
 *
 * @module
 */

import {
  initMlp,
  mlpBackward,
  type MlpBuffers,
  mlpBuffers,
  mlpForward,
  type MlpLayout,
  mlpLayout,
} from "./mlp.ts";
import type { Rng } from "../learning/mod.ts";

/** Network shape. */
export interface PolicyShape {
  obsSize: number;
  actionCount: number;
  /** Hidden widths of both actor and critic (default `[64, 64]`). */
  hidden: number[];
}

/** Actor and critic in one flat parameter vector. */
export interface ActorCritic {
  shape: PolicyShape;
  actor: MlpLayout;
  critic: MlpLayout;
  params: Float64Array;
}

/** Builds and orthogonally initialises an actor-critic (gains √2 hidden, 0.01 policy head, 1 value head). */
export function createActorCritic(shape: PolicyShape, rng: Rng): ActorCritic {
  const actor = mlpLayout([shape.obsSize, ...shape.hidden, shape.actionCount], 0);
  const critic = mlpLayout([shape.obsSize, ...shape.hidden, 1], actor.end);
  const params = new Float64Array(critic.end);
  const hiddenGains = shape.hidden.map(() => Math.SQRT2);
  initMlp(params, actor, [...hiddenGains, 0.01], rng);
  initMlp(params, critic, [...hiddenGains, 1], rng);
  return { shape: { ...shape, hidden: [...shape.hidden] }, actor, critic, params };
}

/** Reusable buffers for batches up to `capacity` rows. */
export interface PolicyScratch {
  capacity: number;
  actor: MlpBuffers;
  critic: MlpBuffers;
  dLogits: Float64Array;
  dValue: Float64Array;
  probs: Float64Array;
}

/** Allocates scratch buffers. */
export function policyScratch(net: ActorCritic, capacity: number): PolicyScratch {
  return {
    capacity,
    actor: mlpBuffers(net.actor, capacity),
    critic: mlpBuffers(net.critic, capacity),
    dLogits: new Float64Array(capacity * net.shape.actionCount),
    dValue: new Float64Array(capacity),
    probs: new Float64Array(net.shape.actionCount),
  };
}

/** Softmax of `logits[off:off+n)` into `out`; returns log Σ exp (for log-probabilities). */
function logSoftmax(logits: Float64Array, off: number, n: number, out: Float64Array): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (logits[off + j] > max) max = logits[off + j];
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(logits[off + j] - max);
    out[j] = e;
    sum += e;
  }
  for (let j = 0; j < n; j++) out[j] /= sum;
  return max + Math.log(sum);
}

/** Output of {@link act}. */
export interface ActOutput {
  actions: Int32Array;
  logp: Float64Array;
  values: Float64Array;
}

/**
 * Samples actions for `n` observations (row-major), writing actions, their log-probabilities and the
 * critic's values. `greedy` takes the most likely action instead of sampling.
 */
export function act(
  net: ActorCritic,
  obs: Float64Array,
  n: number,
  rng: Rng,
  scratch: PolicyScratch,
  out: ActOutput,
  greedy = false,
): void {
  const A = net.shape.actionCount;
  const logits = mlpForward(net.params, net.actor, obs, n, scratch.actor);
  const values = mlpForward(net.params, net.critic, obs, n, scratch.critic);
  const p = scratch.probs;
  for (let r = 0; r < n; r++) {
    const lse = logSoftmax(logits, r * A, A, p);
    let a = A - 1;
    if (greedy) {
      a = 0;
      for (let j = 1; j < A; j++) if (p[j] > p[a]) a = j;
    } else {
      const u = rng.float();
      let c = 0;
      for (let j = 0; j < A; j++) {
        c += p[j];
        if (u < c) {
          a = j;
          break;
        }
      }
    }
    out.actions[r] = a;
    out.logp[r] = logits[r * A + a] - lse;
    out.values[r] = values[r];
  }
}

/** Critic values for `n` observations into `out`. */
export function values(
  net: ActorCritic,
  obs: Float64Array,
  n: number,
  scratch: PolicyScratch,
  out: Float64Array,
): void {
  const v = mlpForward(net.params, net.critic, obs, n, scratch.critic);
  out.set(v.subarray(0, n));
}

/** Action probabilities for one observation. */
export function actionProbs(net: ActorCritic, obs: Float64Array, scratch: PolicyScratch): number[] {
  const logits = mlpForward(net.params, net.actor, obs, 1, scratch.actor);
  const p = new Float64Array(net.shape.actionCount);
  logSoftmax(logits, 0, net.shape.actionCount, p);
  return [...p];
}

/** A minibatch for the PPO loss (contiguous rows). */
export interface PpoMinibatch {
  size: number;
  obs: Float64Array;
  actions: Int32Array;
  logpOld: Float64Array;
  advantages: Float64Array;
  returns: Float64Array;
  valuesOld: Float64Array;
}

/** PPO loss coefficients. */
export interface PpoLossOptions {
  /** Surrogate clip ε (default 0.2). */
  clip: number;
  /** Value-loss weight (default 0.5). */
  vfCoef: number;
  /** Entropy bonus weight (default 0.01). */
  entCoef: number;
  /** Normalise advantages within the minibatch (default true). */
  normAdv: boolean;
  /** Clip the value update around the old value with the same ε (default false). */
  clipValue: boolean;
}

/** Loss terms of one minibatch. */
export interface PpoLossStats {
  loss: number;
  policyLoss: number;
  valueLoss: number;
  entropy: number;
  approxKl: number;
  clipFrac: number;
}

/**
 * PPO loss on a minibatch; ADDS its gradient w.r.t. every parameter into `grads`.
 * loss = −mean(min(ρA, clip(ρ,1±ε)A)) + vfCoef·½·mean((V−R)²) − entCoef·mean(H).
 */
export function ppoLossAndGrad(
  net: ActorCritic,
  mb: PpoMinibatch,
  opts: PpoLossOptions,
  grads: Float64Array,
  scratch: PolicyScratch,
): PpoLossStats {
  const n = mb.size;
  const A = net.shape.actionCount;
  const logits = mlpForward(net.params, net.actor, mb.obs, n, scratch.actor);
  const v = mlpForward(net.params, net.critic, mb.obs, n, scratch.critic);
  let advMean = 0;
  let advStd = 1;
  if (opts.normAdv && n > 1) {
    for (let r = 0; r < n; r++) advMean += mb.advantages[r];
    advMean /= n;
    let s = 0;
    for (let r = 0; r < n; r++) s += (mb.advantages[r] - advMean) ** 2;
    advStd = Math.sqrt(s / (n - 1)) + 1e-8;
  }
  const p = scratch.probs;
  const dL = scratch.dLogits;
  const dV = scratch.dValue;
  let policyLoss = 0;
  let valueLoss = 0;
  let entropy = 0;
  let approxKl = 0;
  let clipped = 0;
  const lo = 1 - opts.clip;
  const hi = 1 + opts.clip;
  for (let r = 0; r < n; r++) {
    const off = r * A;
    const lse = logSoftmax(logits, off, A, p);
    const a = mb.actions[r];
    const logp = logits[off + a] - lse;
    const logRatio = logp - mb.logpOld[r];
    const ratio = Math.exp(logRatio);
    const adv = opts.normAdv && n > 1 ? (mb.advantages[r] - advMean) / advStd : mb.advantages[r];
    const s1 = ratio * adv;
    const s2 = Math.min(Math.max(ratio, lo), hi) * adv;
    policyLoss -= Math.min(s1, s2);
    // d(-min)/d(logp): the unclipped branch carries the gradient −A·ρ, the clipped one none.
    const isClipped = s2 < s1;
    if (ratio < lo || ratio > hi) clipped++;
    const dLogp = isClipped ? 0 : -adv * ratio / n;
    let h = 0;
    for (let j = 0; j < A; j++) if (p[j] > 0) h -= p[j] * Math.log(p[j]);
    entropy += h;
    approxKl += ratio - 1 - logRatio;
    // dlogp/dz_j = 1[j=a] − p_j;  dH/dz_j = −p_j (log p_j + H).
    for (let j = 0; j < A; j++) {
      const pj = p[j];
      const logpj = pj > 0 ? Math.log(pj) : 0;
      const dH = -pj * (logpj + h);
      dL[off + j] = dLogp * ((j === a ? 1 : 0) - pj) - (opts.entCoef / n) * dH;
    }
    // Value loss ½(V−R)², optionally clipped around the old value.
    const err = v[r] - mb.returns[r];
    if (opts.clipValue) {
      const vClip = mb.valuesOld[r] + Math.min(Math.max(v[r] - mb.valuesOld[r], -opts.clip), opts.clip);
      const errClip = vClip - mb.returns[r];
      if (errClip * errClip > err * err) {
        valueLoss += 0.5 * errClip * errClip;
        const inside = Math.abs(v[r] - mb.valuesOld[r]) < opts.clip;
        dV[r] = inside ? opts.vfCoef * errClip / n : 0;
      } else {
        valueLoss += 0.5 * err * err;
        dV[r] = opts.vfCoef * err / n;
      }
    } else {
      valueLoss += 0.5 * err * err;
      dV[r] = opts.vfCoef * err / n;
    }
  }
  mlpBackward(net.params, grads, net.actor, dL, n, scratch.actor);
  mlpBackward(net.params, grads, net.critic, dV, n, scratch.critic);
  policyLoss /= n;
  valueLoss /= n;
  entropy /= n;
  return {
    loss: policyLoss + opts.vfCoef * valueLoss - opts.entCoef * entropy,
    policyLoss,
    valueLoss,
    entropy,
    approxKl: approxKl / n,
    clipFrac: clipped / n,
  };
}

/**
 * Value-regression loss ½·mean((V−target)²) over `n` rows; ADDS its gradient (critic parameters only) into
 * `grads`. Used by the replay update.
 */
export function valueLossAndGrad(
  net: ActorCritic,
  obs: Float64Array,
  targets: Float64Array,
  n: number,
  grads: Float64Array,
  scratch: PolicyScratch,
): number {
  const v = mlpForward(net.params, net.critic, obs, n, scratch.critic);
  const dV = scratch.dValue;
  let loss = 0;
  for (let r = 0; r < n; r++) {
    const err = v[r] - targets[r];
    loss += 0.5 * err * err;
    dV[r] = err / n;
  }
  mlpBackward(net.params, grads, net.critic, dV, n, scratch.critic);
  return loss / n;
}

/**
 * Adam over one flat parameter vector, with global-norm gradient clipping. The optimizer state (moments
 * and step count) is plain data so checkpoints can save it and a resumed run continues exactly.
 *
 * @module
 */

/** Adam hyperparameters. */
export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** Adam's state. */
export interface AdamState {
  m: Float64Array;
  v: Float64Array;
  t: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Creates Adam state for `size` parameters. */
export function createAdam(size: number, options: AdamOptions): AdamState {
  return {
    m: new Float64Array(size),
    v: new Float64Array(size),
    t: 0,
    lr: options.lr,
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-5,
  };
}

/** Euclidean norm of `grads[start:end)`. */
export function gradNorm(grads: Float64Array, start = 0, end = grads.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += grads[i] * grads[i];
  return Math.sqrt(s);
}

/**
 * Scales `grads[start:end)` so its global norm is at most `maxNorm` (no-op when `maxNorm` ≤ 0).
 * Returns the norm before clipping.
 */
export function clipGradNorm(grads: Float64Array, maxNorm: number, start = 0, end = grads.length): number {
  const norm = gradNorm(grads, start, end);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (let i = start; i < end; i++) grads[i] *= scale;
  }
  return norm;
}

/** One Adam step on `params[start:end)` with `grads` of the same layout. */
export function adamStep(
  state: AdamState,
  params: Float64Array,
  grads: Float64Array,
  start = 0,
  end = params.length,
): void {
  state.t++;
  const { m, v, beta1, beta2, eps } = state;
  const bc1 = 1 - beta1 ** state.t;
  const bc2 = 1 - beta2 ** state.t;
  const stepSize = state.lr / bc1;
  // One division per parameter: √v̂ = √v · (1/√(1−β2ᵗ)).
  const invSqrtBc2 = 1 / Math.sqrt(bc2);
  const b1c = 1 - beta1;
  const b2c = 1 - beta2;
  for (let i = start; i < end; i++) {
    const g = grads[i];
    const mi = beta1 * m[i] + b1c * g;
    const vi = beta2 * v[i] + b2c * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] -= (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
}

/**
 * The one seeded pseudo-random generator of the tree (sfc32 seeded through splitmix32, so nearby seeds give
 * unrelated streams). Its whole state is four 32-bit words, so a training run can save it in a checkpoint and
 * continue with exactly the same stream after a resume. Everything random in the RL trainer (weight init,
 * action sampling, minibatch shuffles, env resets) draws from an {@link Rng}; the bandits draw from a
 * {@link Uniform} made by {@link createRng} and use the Gamma / Beta samplers below (Marsaglia–Tsang).
 *
 * @module
 */

/** The serialisable state of an {@link Rng}. */
export type RngState = [number, number, number, number];

/** Mixes a 32-bit seed into a well-spread word (splitmix32 step). */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Returns a fresh random 31-bit seed from the system's entropy (for runs started without `--seed`). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] & 0x7fffffff;
}

/**
 * Seeded generator. The same seed always gives the same sequence.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const u = rng.float(); // [0, 1)
 * const saved = rng.state();
 * const again = Rng.fromState(saved);
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;

  /** Creates a generator from an integer seed. */
  constructor(seed: number) {
    let s = seed >>> 0;
    s = splitmix32(s);
    this.#a = s;
    s = splitmix32(s ^ 0x1234567);
    this.#b = s;
    s = splitmix32(s ^ 0x7654321);
    this.#c = s;
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Rebuilds a generator from {@link Rng.state}. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.#a = state[0] >>> 0;
    rng.#b = state[1] >>> 0;
    rng.#c = state[2] >>> 0;
    rng.#d = state[3] >>> 0;
    return rng;
  }

  /** The current state (the cached spare normal is dropped, so save only between whole draws). */
  state(): RngState {
    this.#spare = null;
    return [this.#a >>> 0, this.#b >>> 0, this.#c >>> 0, this.#d >>> 0];
  }

  /** Next unsigned 32-bit word. */
  nextU32(): number {
    const t0 = (this.#a + this.#b) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#d = (this.#d + 1) | 0;
    const t = (t0 + this.#d) | 0;
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = this.float();
    while (u <= 1e-300) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle of `arr` in place. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** Derives an independent seed for a sub-stream (an env, a worker). */
  fork(): number {
    return this.nextU32() & 0x7fffffff;
  }
}

/** A uniform random source returning numbers in [0, 1) (what the bandits and samplers draw from). */
export type Uniform = () => number;

/**
 * A uniform source: with a seed, the deterministic {@link Rng} stream for that seed; without one,
 * `Math.random`.
 *
 * @example
 * ```ts
 * const rand = createRng(7);
 * rand(); // 0 <= x < 1, same sequence for seed 7 on every run
 * ```
 */
export function createRng(seed?: number): Uniform {
  if (seed === undefined) return Math.random;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const rng = new Rng(Math.floor(seed));
  return () => rng.float();
}

/** Samples a standard normal N(0, 1) with the Box–Muller transform. */
export function sampleNormal(rand: Uniform): number {
  let u = 0;
  while (u === 0) u = rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Samples Gamma(shape, 1) with Marsaglia–Tsang; shapes below 1 use the boost `G(a+1)·U^(1/a)`. */
export function sampleGamma(shape: number, rand: Uniform): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rand();
    return sampleGamma(shape + 1, rand) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  while (true) {
    let x: number, v: number;
    do {
      x = sampleNormal(rand);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Samples Beta(alpha, beta) as `X/(X+Y)` with X ~ Gamma(alpha), Y ~ Gamma(beta). */
export function sampleBeta(alpha: number, beta: number, rand: Uniform): number {
  const x = sampleGamma(alpha, rand);
  const y = sampleGamma(beta, rand);
  const sum = x + y;
  return sum === 0 ? 0.5 : x / sum;
}

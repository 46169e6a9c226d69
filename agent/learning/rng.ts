/**
 * Small seedable random number generators for the bandits: a uniform source (sfc32 seeded through
 * splitmix32, so nearby seeds give unrelated streams), a standard normal (Box–Muller), and Gamma / Beta
 * samplers (Marsaglia–Tsang). Pass a seed for reproducible runs; without one `Math.random` is used.
 *
 * @module
 */

/** A uniform random source returning numbers in [0, 1). */
export type Rng = () => number;

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Creates a uniform generator. With a seed the sequence is deterministic (sfc32); without one it is
 * `Math.random`.
 *
 * @example
 * ```ts
 * const rng = createRng(7);
 * rng(); // 0 <= x < 1, same sequence for seed 7 on every run
 * ```
 */
export function createRng(seed?: number): Rng {
  if (seed === undefined) return Math.random;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const mix = splitmix32(Math.floor(seed) >>> 0);
  let a = mix(), b = mix(), c = mix(), d = mix();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // warm up
  return next;
}

/** Samples a standard normal N(0, 1) with the Box–Muller transform. */
export function sampleNormal(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Samples Gamma(shape, 1) with Marsaglia–Tsang; shapes below 1 use the boost `G(a+1)·U^(1/a)`. */
export function sampleGamma(shape: number, rng: Rng): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng();
    return sampleGamma(shape + 1, rng) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  while (true) {
    let x: number, v: number;
    do {
      x = sampleNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Samples Beta(alpha, beta) as `X/(X+Y)` with X ~ Gamma(alpha), Y ~ Gamma(beta). */
export function sampleBeta(alpha: number, beta: number, rng: Rng): number {
  const x = sampleGamma(alpha, rng);
  const y = sampleGamma(beta, rng);
  const sum = x + y;
  return sum === 0 ? 0.5 : x / sum;
}

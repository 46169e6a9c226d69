/**
 * Hyperparameter sweeps: a search space of named parameters (uniform, int_uniform, uniform_pow2,
 * log_normal, logit_normal between min and max), each mapped to [-1, 1]; a `random` strategy and a
 * `pareto` strategy that perturbs members of the Pareto front of (metric ↑, cost ↓); and a loop that runs
 * trials, persists `.dspy/rl/sweep_state.json` after every trial and `.dspy/rl/best.json`
 * `{config, summary, history}` at the end. A later sweep continues from the saved history.
 *
 * @module
 */

import { join } from "node:path";
import { atomicWriteJson } from "../core/atomic.ts";
import { UserError } from "../core/errors.ts";
import { randomSeed, Rng } from "../learning/mod.ts";

/** How a parameter is distributed. */
export type Distribution = "uniform" | "int_uniform" | "uniform_pow2" | "log_normal" | "logit_normal";

/** One parameter of the space. */
export interface ParamSpec {
  distribution: Distribution;
  min: number;
  max: number;
  /** Typical value (documentation; the first trial of a fresh sweep uses the means). */
  mean?: number;
}

/** Parameter name (dotted for nested config, e.g. `weights.pass_rate`) → spec. */
export type SearchSpace = Record<string, ParamSpec>;

/**
 * The reference's default space, restricted to the parameters that change what the bandit trainer does
 * (the old `temperature`, `target_entropy`, `clip_higher`, `weights.retrieval_precision` and `n_envs` were
 * swept but had no effect, so they are left out).
 */
export const DEFAULT_SWEEP_SPACE: SearchSpace = {
  epsilon: { distribution: "logit_normal", min: 0.05, max: 0.6, mean: 0.1 },
  ucb_c: { distribution: "log_normal", min: 0.5, max: 6, mean: 2 },
  timeout_sec: { distribution: "int_uniform", min: 120, max: 480, mean: 240 },
  "weights.pass_rate": { distribution: "uniform", min: 0.6, max: 1.2, mean: 0.9 },
  "weights.blast_radius": { distribution: "logit_normal", min: 0.01, max: 0.3, mean: 0.08 },
  "trainer.steps": { distribution: "int_uniform", min: 100, max: 600, mean: 300 },
};

const logit = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function transform(spec: ParamSpec): { f: (x: number) => number; inv: (y: number) => number } {
  switch (spec.distribution) {
    case "log_normal":
    case "uniform_pow2":
      return { f: Math.log, inv: Math.exp };
    case "logit_normal":
      return { f: logit, inv: sigmoid };
    default:
      return { f: (x) => x, inv: (y) => y };
  }
}

/** Checks a space and throws a {@link UserError} naming the bad parameter. */
export function validateSpace(space: SearchSpace): void {
  const kinds = ["uniform", "int_uniform", "uniform_pow2", "log_normal", "logit_normal"];
  for (const [name, s] of Object.entries(space)) {
    if (!kinds.includes(s.distribution)) {
      throw new UserError(`sweep parameter ${name}: distribution must be one of ${kinds.join(", ")}`);
    }
    if (!(Number.isFinite(s.min) && Number.isFinite(s.max) && s.min < s.max)) {
      throw new UserError(`sweep parameter ${name}: needs finite min < max`);
    }
    if ((s.distribution === "log_normal" || s.distribution === "uniform_pow2") && s.min <= 0) {
      throw new UserError(`sweep parameter ${name}: ${s.distribution} needs min > 0`);
    }
    if (s.distribution === "logit_normal" && (s.min <= 0 || s.max >= 1)) {
      throw new UserError(`sweep parameter ${name}: logit_normal needs 0 < min < max < 1`);
    }
  }
}

/** Maps a value to [-1, 1]. */
export function normalize(spec: ParamSpec, value: number): number {
  const { f } = transform(spec);
  const lo = f(spec.min), hi = f(spec.max);
  return Math.min(1, Math.max(-1, ((f(value) - lo) / (hi - lo)) * 2 - 1));
}

/** Maps [-1, 1] back to a value (rounded for int and pow2 distributions). */
export function denormalize(spec: ParamSpec, z: number): number {
  const { f, inv } = transform(spec);
  const lo = f(spec.min), hi = f(spec.max);
  let v = inv(lo + ((Math.min(1, Math.max(-1, z)) + 1) / 2) * (hi - lo));
  if (spec.distribution === "int_uniform") v = Math.round(v);
  if (spec.distribution === "uniform_pow2") v = 2 ** Math.round(Math.log2(v));
  return Math.min(spec.max, Math.max(spec.min, v));
}

/** One finished trial. */
export interface TrialSummary {
  iteration: number;
  params: Record<string, number>;
  /** The objective (higher is better). */
  metric: number;
  /** Seconds the trial took. */
  cost: number;
  /** Other facts the objective reported (avg_reward, avg_pass_rate, ...). */
  info: Record<string, unknown>;
}

/** Persisted sweep state. */
export interface SweepState {
  method: "random" | "pareto";
  metric: string;
  space: SearchSpace;
  history: TrialSummary[];
  best: TrialSummary | null;
  updated_at: string;
}

/** Indices of the Pareto front of (metric max, cost min). */
export function paretoFront(history: TrialSummary[]): number[] {
  const front: number[] = [];
  history.forEach((a, i) => {
    const dominated = history.some((b, j) =>
      j !== i && b.metric >= a.metric && b.cost <= a.cost && (b.metric > a.metric || b.cost < a.cost)
    );
    if (!dominated) front.push(i);
  });
  return front;
}

/** Suggests the next parameters. */
export function suggest(
  state: SweepState,
  rng: Rng,
  options: { warmup?: number; sigma?: number } = {},
): Record<string, number> {
  const names = Object.keys(state.space);
  const out: Record<string, number> = {};
  const warmup = options.warmup ?? 3;
  if (state.history.length === 0) {
    // Start from the means: a sensible baseline every sweep can be compared with.
    for (const n of names) {
      const s = state.space[n];
      const m = Math.min(s.max, Math.max(s.min, s.mean ?? (s.min + s.max) / 2));
      out[n] = s.distribution === "int_uniform"
        ? Math.round(m)
        : s.distribution === "uniform_pow2"
        ? denormalize(s, normalize(s, m))
        : m;
    }
    return out;
  }
  if (state.method === "random" || state.history.length < warmup) {
    for (const n of names) out[n] = denormalize(state.space[n], rng.uniform(-1, 1));
    return out;
  }
  const front = paretoFront(state.history);
  const parent = state.history[front[rng.int(front.length)]];
  const sigma = options.sigma ?? 0.25;
  for (const n of names) {
    const s = state.space[n];
    const z = parent.params[n] === undefined ? rng.uniform(-1, 1) : normalize(s, parent.params[n]);
    out[n] = denormalize(s, z + sigma * rng.normal());
  }
  return out;
}

/** Options for {@link runSweep}. */
export interface SweepOptions {
  /** Workspace RL folder (`.dspy/rl`). */
  rlDir: string;
  method?: "random" | "pareto";
  iterations: number;
  space?: SearchSpace;
  /** Objective name recorded in the state (default `reward`). */
  metric?: string;
  seed?: number;
  /** Ignore a saved sweep state. */
  fresh?: boolean;
  /** Runs one trial and returns its metric (higher is better) and extra info. */
  objective: (
    params: Record<string, number>,
    iteration: number,
  ) => Promise<{ metric: number; info?: Record<string, unknown> }>;
  /** Turns the best params into the `config` of best.json (default: nest dotted names). */
  toConfig?: (params: Record<string, number>) => Record<string, unknown>;
  onTrial?: (trial: TrialSummary, best: TrialSummary) => void;
  signal?: AbortSignal;
}

/** Nests dotted names: `{"weights.pass_rate": 1}` → `{weights: {pass_rate: 1}}`. */
export function nestParams(params: Record<string, number>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    const parts = k.split(".");
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]] = v;
  }
  return out;
}

/** Reads a saved sweep state, or null. */
export async function readSweepState(rlDir: string): Promise<SweepState | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(rlDir, "sweep_state.json")));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new UserError(
      `${join(rlDir, "sweep_state.json")} is unreadable (${
        (err as Error).message
      }); delete it or pass --fresh`,
    );
  }
}

/** Runs the sweep; returns the final state (also persisted). */
export async function runSweep(options: SweepOptions): Promise<SweepState> {
  const space = options.space ?? DEFAULT_SWEEP_SPACE;
  validateSpace(space);
  const method = options.method ?? "pareto";
  if (method !== "random" && method !== "pareto") {
    throw new UserError(`unknown sweep method '${method}': use random or pareto`);
  }
  const saved = options.fresh ? null : await readSweepState(options.rlDir);
  const sameSpace = saved &&
    JSON.stringify(Object.keys(saved.space).sort()) === JSON.stringify(Object.keys(space).sort());
  const state: SweepState = {
    method,
    metric: options.metric ?? "reward",
    space,
    history: sameSpace ? saved!.history : [],
    best: sameSpace ? saved!.best : null,
    updated_at: new Date().toISOString(),
  };
  const rng = new Rng(options.seed ?? randomSeed());
  const statePath = join(options.rlDir, "sweep_state.json");
  for (let i = 0; i < options.iterations; i++) {
    if (options.signal?.aborted) break;
    const params = suggest(state, rng);
    const iteration = state.history.length + 1;
    const started = performance.now();
    const { metric, info } = await options.objective(params, iteration);
    const trial: TrialSummary = {
      iteration,
      params,
      metric,
      cost: (performance.now() - started) / 1000,
      info: info ?? {},
    };
    state.history.push(trial);
    if (!state.best || trial.metric > state.best.metric) state.best = trial;
    state.updated_at = new Date().toISOString();
    await atomicWriteJson(statePath, state);
    options.onTrial?.(trial, state.best);
  }
  if (state.best) {
    const toConfig = options.toConfig ?? nestParams;
    await atomicWriteJson(join(options.rlDir, "best.json"), {
      config: toConfig(state.best.params),
      summary: state.best,
      history: state.history,
    });
  }
  return state;
}

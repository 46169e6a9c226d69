/**
 * The environment API every RL component speaks: a Gymnasium-style `reset`/`step` pair over a fixed-size
 * numeric observation and a discrete action set, plus optional `snapshot`/`restore` so a checkpoint can
 * carry the envs' exact state. Envs are named by module + export ({@link EnvSpec}) so a Worker can build
 * its own copies.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";

/** What `reset` returns. */
export interface ResetResult {
  /** Observation, length `observationSize`. */
  obs: Float64Array;
  /** Free-form details. */
  info: Record<string, unknown>;
}

/** What `step` returns. */
export interface StepResult {
  /** Observation after the action, length `observationSize`. */
  obs: Float64Array;
  /** Reward for this step. */
  reward: number;
  /** The episode ended inside the MDP (e.g. the pole fell). */
  terminated: boolean;
  /** The episode was cut off from outside (time limit); the value of `obs` still counts. */
  truncated: boolean;
  /** Free-form details. */
  info: Record<string, unknown>;
}

/** A single environment with discrete actions. Methods may be sync or async. */
export interface Env {
  /** Length of every observation (constant for the life of the env). */
  readonly observationSize: number;
  /** Number of discrete actions, `0 .. actionCount-1`. */
  readonly actionCount: number;
  /** Optional names of the actions (same order). */
  readonly actionNames?: readonly string[];
  /** Starts an episode; a seed reseeds the env's own generator. */
  reset(seed?: number): ResetResult | Promise<ResetResult>;
  /** Applies an action. Throws a RangeError for an action outside `0 .. actionCount-1`. */
  step(action: number): StepResult | Promise<StepResult>;
  /** JSON-serialisable state (physics + generator) for checkpoints. */
  snapshot?(): unknown;
  /** Restores a {@link Env.snapshot}. */
  restore?(state: unknown): void;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/** Names an env factory so another thread can build it: `import(module)[export](options)`. */
export interface EnvSpec {
  /** Module URL or absolute path (file URLs preferred). */
  module: string;
  /** Name of the exported factory `(options) => Env | Promise<Env>`. */
  export: string;
  /** JSON-serialisable options passed to the factory. */
  options?: Record<string, unknown>;
}

/** A factory building one env. */
export type EnvFactory = (options?: Record<string, unknown>) => Env | Promise<Env>;

/** The built-in envs by name. */
export const BUILTIN_ENVS: Record<string, { module: string; export: string }> = {
  cartpole: { module: new URL("./cartpole.ts", import.meta.url).href, export: "makeCartPole" },
  bandit: { module: new URL("./bandit_env.ts", import.meta.url).href, export: "makeBanditEnv" },
  tool: { module: new URL("./tool_env.ts", import.meta.url).href, export: "makeToolEnv" },
};

/** Returns the spec for a built-in env name. */
export function builtinEnvSpec(name: string, options: Record<string, unknown> = {}): EnvSpec {
  const entry = BUILTIN_ENVS[name];
  if (!entry) {
    throw new UserError(`unknown env '${name}': choose one of ${Object.keys(BUILTIN_ENVS).join(", ")}`);
  }
  return { ...entry, options };
}

/** Builds an env from its spec (dynamic import). */
export async function makeEnvFromSpec(spec: EnvSpec): Promise<Env> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(spec.module);
  } catch (err) {
    throw new UserError(
      `cannot load env module ${spec.module}: ${err instanceof Error ? err.message : err}`,
      { cause: err },
    );
  }
  const factory = mod[spec.export];
  if (typeof factory !== "function") {
    throw new UserError(`env module ${spec.module} has no exported function '${spec.export}'`);
  }
  const env = await (factory as EnvFactory)(spec.options ?? {});
  checkEnv(env, `${spec.module}#${spec.export}`);
  return env;
}

/** Throws a clear error when an object does not look like an {@link Env}. */
export function checkEnv(env: Env, name = "env"): void {
  if (!env || typeof env.reset !== "function" || typeof env.step !== "function") {
    throw new UserError(`${name} is not an env: it needs reset() and step()`);
  }
  if (!Number.isInteger(env.observationSize) || env.observationSize <= 0) {
    throw new UserError(`${name} has an invalid observationSize ${env.observationSize}`);
  }
  if (!Number.isInteger(env.actionCount) || env.actionCount <= 0) {
    throw new UserError(`${name} has an invalid actionCount ${env.actionCount}`);
  }
}

/** Throws the standard error for an action outside the env's range. */
export function checkAction(action: number, count: number): void {
  if (!Number.isInteger(action) || action < 0 || action >= count) {
    throw new RangeError(`action ${action} is out of range: valid actions are 0..${count - 1}`);
  }
}

/**
 * Multi-armed bandits that learn which tool pays off: ε-greedy, UCB1 and Thompson sampling (Beta
 * posterior). One implementation serves the interactive agent (routing ties and exploration) and the RL
 * trainer (`rl train`). A bandit serialises to the old tool's `.dspy_rl_state.json` shape
 * `{policy, tools, values, counts}` (Thompson adds `alpha`/`beta`), persisted with atomic writes, and
 * restores from it even when the arm list or the policy changed: arms are matched by name, and a
 * Thompson posterior is rebuilt from values and counts when a file written by another policy is loaded.
 *
 * @example
 * ```ts
 * const bandit = createBandit({ policy: "ucb1", tools: ["grep", "esearch", "plan"], seed: 7 });
 * const arm = bandit.select();
 * bandit.update(arm, 0.8);
 * await saveBanditFile(workspacePaths(ws).rlStateFile, bandit);
 * ```
 *
 * @module
 */

import { atomicWriteJson } from "../../core/atomic.ts";
import { UsageError, UserError } from "../../core/errors.ts";
import { workspacePaths } from "../../core/workspace.ts";
import { createRng, type Rng, sampleBeta } from "./rng.ts";

/** The bandit policies. */
export type BanditPolicy = "epsilon-greedy" | "ucb1" | "thompson";

/** Every accepted spelling of each policy (the old tool's `make_bandit` names). */
const POLICY_ALIASES: Record<string, BanditPolicy> = {
  "eps": "epsilon-greedy",
  "epsilon": "epsilon-greedy",
  "epsilon-greedy": "epsilon-greedy",
  "epsilon_greedy": "epsilon-greedy",
  "egreedy": "epsilon-greedy",
  "ucb": "ucb1",
  "ucb1": "ucb1",
  "thompson": "thompson",
  "beta": "thompson",
  "ts": "thompson",
};

/** Policy names accepted by {@link normalizePolicy}. */
export const POLICY_NAMES: readonly string[] = Object.keys(POLICY_ALIASES);

/**
 * Maps a policy name or alias (`eps`, `egreedy`, `ucb`, `beta`, `ts`, …) to its canonical name.
 * Throws a {@link UsageError} (exit 2 on the CLI) listing the accepted names for anything else.
 */
export function normalizePolicy(name: string): BanditPolicy {
  const policy = POLICY_ALIASES[name.trim().toLowerCase()];
  if (!policy) {
    throw new UsageError(
      `unknown bandit policy '${name}': use epsilon-greedy, ucb1 or thompson (aliases: ${
        POLICY_NAMES.join(", ")
      })`,
    );
  }
  return policy;
}

/** The persisted form (`.dspy_rl_state.json`). */
export interface BanditState {
  /** Canonical policy name. */
  policy: BanditPolicy;
  /** Arm names, in order. */
  tools: string[];
  /** Mean reward per arm. */
  values: number[];
  /** Number of updates per arm. */
  counts: number[];
  /** Thompson only: Beta posterior α per arm. */
  alpha?: number[];
  /** Thompson only: Beta posterior β per arm. */
  beta?: number[];
  /** ε for epsilon-greedy. */
  epsilon?: number;
  /** Exploration constant for UCB1. */
  ucb_c?: number;
  /** ISO time of the last save. */
  updated_at?: string;
}

/** Options for {@link createBandit} and {@link restoreBandit}. */
export interface BanditOptions {
  /** Policy or alias (default `epsilon-greedy`). */
  policy?: string;
  /** Arm names (unique, non-empty). */
  tools: readonly string[];
  /** Exploration rate for ε-greedy, 0..1 (default 0.1). */
  epsilon?: number;
  /** Exploration constant for UCB1 (default 2.0). */
  ucbC?: number;
  /** Seed for a reproducible random stream. */
  seed?: number;
  /** Custom uniform source; overrides `seed`. */
  rng?: Rng;
}

/** A bandit over named arms. */
export interface Bandit {
  /** Canonical policy name. */
  readonly policy: BanditPolicy;
  /** Arm names, in order. */
  readonly tools: readonly string[];
  /** Picks an arm and returns its name. */
  select(): string;
  /** Picks an arm and returns its index. */
  selectIndex(): number;
  /**
   * Records a reward for an arm (name or index). An unknown name adds the arm. Thompson clips the reward
   * to [0, 1]; the other policies take any finite reward.
   */
  update(arm: string | number, reward: number): void;
  /** Adds an arm (no-op when present) and returns its index. */
  addArm(name: string): number;
  /** Mean reward per arm (Thompson: the posterior mean). */
  values(): number[];
  /** Updates per arm. */
  counts(): number[];
  /** Arms ranked by mean reward, best first. */
  ranking(): { tool: string; value: number; count: number }[];
  /** The serialisable state. */
  toState(): BanditState;
}

const DEFAULT_EPSILON = 0.1;
const DEFAULT_UCB_C = 2.0;

class TabularBandit implements Bandit {
  readonly policy: BanditPolicy;
  #tools: string[];
  #values: number[];
  #counts: number[];
  #alpha: number[];
  #beta: number[];
  #epsilon: number;
  #ucbC: number;
  #rng: Rng;

  constructor(options: BanditOptions) {
    this.policy = normalizePolicy(options.policy ?? "epsilon-greedy");
    const tools = [...options.tools];
    if (tools.length === 0) throw new UserError("a bandit needs at least one arm (tool)");
    const seen = new Set<string>();
    for (const tool of tools) {
      if (typeof tool !== "string" || tool.trim() === "") {
        throw new UserError(`bandit arm names must be non-empty strings, got ${JSON.stringify(tool)}`);
      }
      if (seen.has(tool)) throw new UserError(`bandit arm '${tool}' is listed twice`);
      seen.add(tool);
    }
    const epsilon = options.epsilon ?? DEFAULT_EPSILON;
    if (!(epsilon >= 0 && epsilon <= 1)) {
      throw new UserError(`epsilon must be between 0 and 1, got ${epsilon}`);
    }
    const ucbC = options.ucbC ?? DEFAULT_UCB_C;
    if (!(ucbC >= 0) || !Number.isFinite(ucbC)) {
      throw new UserError(`ucb c must be a number ≥ 0, got ${ucbC}`);
    }
    this.#tools = tools;
    this.#values = tools.map(() => 0);
    this.#counts = tools.map(() => 0);
    this.#alpha = tools.map(() => 1);
    this.#beta = tools.map(() => 1);
    this.#epsilon = epsilon;
    this.#ucbC = ucbC;
    this.#rng = options.rng ?? createRng(options.seed);
  }

  get tools(): readonly string[] {
    return this.#tools;
  }

  /** Loads per-arm statistics (used by restore). */
  setArm(index: number, value: number, count: number, alpha?: number, beta?: number): void {
    this.#values[index] = value;
    this.#counts[index] = count;
    if (alpha !== undefined && beta !== undefined) {
      this.#alpha[index] = alpha;
      this.#beta[index] = beta;
    } else {
      // Rebuild a Beta posterior from a mean in [0, 1] and a count.
      const mean = Math.min(1, Math.max(0, value));
      this.#alpha[index] = 1 + mean * count;
      this.#beta[index] = 1 + (1 - mean) * count;
    }
  }

  addArm(name: string): number {
    const existing = this.#tools.indexOf(name);
    if (existing >= 0) return existing;
    if (typeof name !== "string" || name.trim() === "") {
      throw new UserError(`bandit arm names must be non-empty strings, got ${JSON.stringify(name)}`);
    }
    this.#tools.push(name);
    this.#values.push(0);
    this.#counts.push(0);
    this.#alpha.push(1);
    this.#beta.push(1);
    return this.#tools.length - 1;
  }

  select(): string {
    return this.#tools[this.selectIndex()];
  }

  selectIndex(): number {
    switch (this.policy) {
      case "epsilon-greedy":
        if (this.#rng() < this.#epsilon) return Math.floor(this.#rng() * this.#tools.length);
        return this.#argmax(this.#values);
      case "ucb1": {
        const untried = this.#counts.flatMap((n, i) => n === 0 ? [i] : []);
        if (untried.length > 0) return untried[Math.floor(this.#rng() * untried.length)];
        const total = this.#counts.reduce((a, b) => a + b, 0);
        const logT = Math.log(total);
        return this.#argmax(this.#values.map((q, i) => q + this.#ucbC * Math.sqrt(logT / this.#counts[i])));
      }
      case "thompson":
        return this.#argmax(this.#alpha.map((a, i) => sampleBeta(a, this.#beta[i], this.#rng)));
    }
  }

  /** Index of the largest score; ties are broken at random so equal arms share the traffic. */
  #argmax(scores: number[]): number {
    let best = -Infinity;
    let ties: number[] = [];
    for (let i = 0; i < scores.length; i++) {
      if (scores[i] > best + 1e-12) {
        best = scores[i];
        ties = [i];
      } else if (Math.abs(scores[i] - best) <= 1e-12) {
        ties.push(i);
      }
    }
    return ties.length === 1 ? ties[0] : ties[Math.floor(this.#rng() * ties.length)];
  }

  update(arm: string | number, reward: number): void {
    if (!Number.isFinite(reward)) {
      throw new RangeError(`bandit reward must be a finite number, got ${reward}`);
    }
    let index: number;
    if (typeof arm === "number") {
      if (!Number.isInteger(arm) || arm < 0 || arm >= this.#tools.length) {
        throw new RangeError(`bandit arm index ${arm} is out of range 0..${this.#tools.length - 1}`);
      }
      index = arm;
    } else {
      index = this.addArm(arm);
    }
    const r = this.policy === "thompson" ? Math.min(1, Math.max(0, reward)) : reward;
    this.#counts[index] += 1;
    this.#values[index] += (r - this.#values[index]) / this.#counts[index];
    this.#alpha[index] += Math.min(1, Math.max(0, reward));
    this.#beta[index] += 1 - Math.min(1, Math.max(0, reward));
  }

  values(): number[] {
    if (this.policy === "thompson") return this.#alpha.map((a, i) => a / (a + this.#beta[i]));
    return [...this.#values];
  }

  counts(): number[] {
    return [...this.#counts];
  }

  ranking(): { tool: string; value: number; count: number }[] {
    const values = this.values();
    return this.#tools
      .map((tool, i) => ({ tool, value: values[i], count: this.#counts[i] }))
      .sort((a, b) => b.value - a.value || b.count - a.count || a.tool.localeCompare(b.tool));
  }

  toState(): BanditState {
    const state: BanditState = {
      policy: this.policy,
      tools: [...this.#tools],
      values: [...this.#values],
      counts: [...this.#counts],
    };
    if (this.policy === "thompson") {
      state.alpha = [...this.#alpha];
      state.beta = [...this.#beta];
    }
    if (this.policy === "epsilon-greedy") state.epsilon = this.#epsilon;
    if (this.policy === "ucb1") state.ucb_c = this.#ucbC;
    return state;
  }
}

/**
 * Creates a fresh bandit.
 *
 * @example
 * ```ts
 * const b = createBandit({ policy: "thompson", tools: ["a", "b"], seed: 1 });
 * b.update("a", 1);
 * ```
 */
export function createBandit(options: BanditOptions): Bandit {
  return new TabularBandit(options);
}

function numberArray(value: unknown, length: number, field: string): number[] {
  if (
    !Array.isArray(value) || value.length !== length ||
    value.some((v) => typeof v !== "number" || !isFinite(v))
  ) {
    throw new UserError(`bandit state field '${field}' must be a list of ${length} numbers`);
  }
  return value as number[];
}

/**
 * Checks that a parsed JSON value has the `{policy, tools, values, counts}` shape and returns it typed.
 * Throws a {@link UserError} saying which field is wrong.
 */
export function validateBanditState(value: unknown): BanditState {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError("bandit state must be a JSON object {policy, tools, values, counts}");
  }
  const v = value as Record<string, unknown>;
  if (typeof v.policy !== "string") throw new UserError("bandit state field 'policy' must be a string");
  const policy = normalizePolicy(v.policy);
  if (!Array.isArray(v.tools) || v.tools.some((t) => typeof t !== "string")) {
    throw new UserError("bandit state field 'tools' must be a list of names");
  }
  const tools = v.tools as string[];
  const values = numberArray(v.values, tools.length, "values");
  const counts = numberArray(v.counts, tools.length, "counts");
  if (counts.some((n) => n < 0)) throw new UserError("bandit state field 'counts' must not be negative");
  const state: BanditState = { policy, tools, values, counts };
  if (v.alpha !== undefined || v.beta !== undefined) {
    state.alpha = numberArray(v.alpha, tools.length, "alpha");
    state.beta = numberArray(v.beta, tools.length, "beta");
    if ([...state.alpha, ...state.beta].some((x) => x <= 0)) {
      throw new UserError("bandit state fields 'alpha' and 'beta' must be positive");
    }
  }
  if (typeof v.epsilon === "number") state.epsilon = v.epsilon;
  if (typeof v.ucb_c === "number") state.ucb_c = v.ucb_c;
  if (typeof v.updated_at === "string") state.updated_at = v.updated_at;
  return state;
}

/**
 * Rebuilds a bandit from a saved state. `options.tools` (when given) is the arm list to use: saved arms
 * are matched by name, arms missing from the state start fresh, and saved arms not listed are kept at the
 * end so nothing learnt is dropped. `options.policy` overrides the saved policy (statistics carry over).
 */
export function restoreBandit(state: unknown, options: Partial<BanditOptions> = {}): Bandit {
  const saved = validateBanditState(state);
  const tools = [...(options.tools ?? saved.tools)];
  for (const t of saved.tools) if (!tools.includes(t)) tools.push(t);
  const policy = options.policy ?? saved.policy;
  const samePolicy = normalizePolicy(policy) === saved.policy;
  const bandit = new TabularBandit({
    ...options,
    policy,
    tools,
    epsilon: options.epsilon ?? saved.epsilon,
    ucbC: options.ucbC ?? saved.ucb_c,
  });
  saved.tools.forEach((tool, i) => {
    const index = tools.indexOf(tool);
    const keepPosterior = samePolicy && saved.alpha && saved.beta;
    bandit.setArm(
      index,
      saved.values[i],
      saved.counts[i],
      keepPosterior ? saved.alpha![i] : undefined,
      keepPosterior ? saved.beta![i] : undefined,
    );
  });
  return bandit;
}

/** Serialises a bandit to the JSON text written to `.dspy_rl_state.json`. */
export function serializeBandit(bandit: Bandit): string {
  return JSON.stringify({ ...bandit.toState(), updated_at: new Date().toISOString() }, null, 2) + "\n";
}

/** Saves a bandit atomically (temp file + rename), so a reader never sees a torn file. */
export async function saveBanditFile(path: string, bandit: Bandit): Promise<void> {
  await atomicWriteJson(path, { ...bandit.toState(), updated_at: new Date().toISOString() });
}

/** Reads and validates a bandit state file; `null` when the file does not exist. */
export async function readBanditStateFile(path: string): Promise<BanditState | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not valid JSON: delete it to start learning afresh`);
  }
  try {
    return validateBanditState(parsed);
  } catch (err) {
    throw new UserError(`${path}: ${(err as Error).message}; delete it to start learning afresh`);
  }
}

/**
 * Moves a damaged state file aside to `<path>.corrupt-<timestamp>` (so the next save cannot overwrite what
 * was learnt) and warns once on stderr with where it went and why. Returns the new path, or null when the
 * file was already gone (another process moved it).
 */
export async function setAsideDamagedState(path: string, reason: string): Promise<string | null> {
  const ts = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const aside = `${path}.corrupt-${ts}`;
  try {
    await Deno.rename(path, aside);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  console.error(
    `warning: ${reason.replace(/[:;] delete it to start learning afresh$/, "")}; kept aside as ${aside}, ` +
      `learning starts afresh (restore it by fixing the JSON and renaming it back)`,
  );
  return aside;
}

/**
 * Loads the bandit saved at `path`, or creates a fresh one when the file does not exist. A corrupt file is
 * an error (with the fix in its message) unless `options.onCorrupt` is `"fresh"`, which moves the damaged
 * file aside with a warning ({@link setAsideDamagedState}) and starts over.
 */
export async function loadBanditFile(
  path: string,
  options: BanditOptions & { onCorrupt?: "error" | "fresh" },
): Promise<Bandit> {
  let state: BanditState | null;
  try {
    state = await readBanditStateFile(path);
  } catch (err) {
    if (options.onCorrupt === "fresh" && err instanceof UserError) {
      await setAsideDamagedState(path, err.message);
      state = null;
    } else throw err;
  }
  return state ? restoreBandit(state, options) : createBandit(options);
}

/**
 * The workspace's persisted tool bandit (`.dspy_rl_state.json`), or `null` when nothing has been learnt
 * yet. Used by `stats` to show values and counts.
 */
export function readBanditState(workspace: string): Promise<BanditState | null> {
  return readBanditStateFile(workspacePaths(workspace).rlStateFile);
}

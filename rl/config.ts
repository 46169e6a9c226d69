/**
 * The RL settings a workspace carries: `.dspy_rl.json` (actions, commands, reward weights, timeouts,
 * policy), merged on request (`--use-best`) with the config of `.dspy/rl/best.json` (a sweep's winner wins,
 * weights merged key by key),
 * and how they combine with per-run flags into the coding-tool env's options. Flags override the files;
 * the files override the built-in defaults.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { workspacePaths } from "../core/workspace.ts";
import { DEFAULT_REWARD } from "./reward.ts";
import { toolActionFromAny, type ToolEnvOptions } from "./tool_env.ts";

/** `.dspy_rl.json` merged with `.dspy/rl/best.json`'s config. Keys are snake_case as in the files. */
export interface RlFileConfig {
  actions?: string[];
  test_cmd?: string | string[];
  lint_cmd?: string | string[];
  build_cmd?: string | string[];
  action_args?: Record<string, Record<string, unknown>>;
  weights?: Record<string, number>;
  penalty_kinds?: string[];
  clamp01_kinds?: string[];
  scales?: Record<string, [number, number]>;
  timeout_sec?: number;
  shell_timeout_sec?: number;
  episode_len?: number;
  policy?: string;
  epsilon?: number;
  ucb_c?: number;
  trainer?: { steps?: number };
}

/**
 * A JSON file's value, `null` when it cannot be read (missing, unreadable). Throws a `UserError` naming
 * the file when it is not valid JSON.
 */
export async function readJsonFile(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not valid JSON: fix or delete it`);
  }
}

/** A sweep's winner as `.dspy/rl/best.json` stores it. */
export interface BestSweepConfig {
  /** Where it was read from. */
  file: string;
  /** The winning params, nested (`{epsilon, weights: {...}, trainer: {steps}}`). */
  config: Record<string, unknown>;
}

/** The best sweep config of the workspace, or null when no sweep has finished. */
export async function loadBestConfig(workspace: string): Promise<BestSweepConfig | null> {
  const file = join(workspacePaths(workspace).rlDir, "best.json");
  const best = await readJsonFile(file);
  const config = best?.config;
  return config && typeof config === "object" ? { file, config: config as Record<string, unknown> } : null;
}

/**
 * The workspace's RL config: `.dspy_rl.json`, overridden by the best sweep config only when `useBest` is
 * set (`rl train --use-best`): a sweep never changes later training silently.
 */
export async function loadRlConfig(
  workspace: string,
  options: { useBest?: boolean } = {},
): Promise<RlFileConfig> {
  const base = (await readJsonFile(join(workspace, ".dspy_rl.json"))) ?? {};
  if (!options.useBest) return base as RlFileConfig;
  const tuned = (await loadBestConfig(workspace))?.config ?? {};
  const weights = { ...(base.weights as object ?? {}), ...(tuned.weights as object ?? {}) };
  return { ...base, ...tuned, weights } as RlFileConfig;
}

/** Per-run settings of the tool env (the CLI's `--actions`, `--test-cmd`, … flags, already parsed). */
export interface ToolEnvFlags {
  /** Subset and order of the actions (validated). */
  actions?: string[];
  /** Commands, split on whitespace. */
  testCmd?: string;
  lintCmd?: string;
  buildCmd?: string;
  patchFile?: string;
  shellCmd?: string;
  catPath?: string;
  cdPath?: string;
  timeoutSec?: number;
  shellTimeoutSec?: number;
  /** Steps per episode; 0 means 1. */
  episodeLen?: number;
}

function argv(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map(String);
  const parts = value.trim().split(/\s+/).filter(Boolean);
  return parts.length ? parts : undefined;
}

/**
 * The tool env's options for `workspace`: `flags`, else `cfg`, else the defaults (timeouts 180 s and 60 s,
 * one step per episode, {@link DEFAULT_REWARD}). Throws a `UserError` for an unknown action name.
 */
export function toolEnvOptionsFrom(
  workspace: string,
  cfg: RlFileConfig,
  flags: ToolEnvFlags = {},
): ToolEnvOptions {
  const actions = flags.actions ?? cfg.actions;
  actions?.forEach((a) => toolActionFromAny(a));
  const actionArgs: Record<string, Record<string, unknown>> = structuredClone(cfg.action_args ?? {});
  if (flags.patchFile) actionArgs.patch = { ...actionArgs.patch, patchFile: flags.patchFile };
  if (flags.shellCmd) actionArgs.shell_run = { ...actionArgs.shell_run, command: argv(flags.shellCmd) };
  if (flags.catPath) actionArgs.shell_cat = { ...actionArgs.shell_cat, path: flags.catPath };
  if (flags.cdPath) actionArgs.shell_cd = { ...actionArgs.shell_cd, path: flags.cdPath };
  return {
    workspace,
    actions,
    actionArgs,
    testCmd: argv(flags.testCmd ?? cfg.test_cmd),
    lintCmd: argv(flags.lintCmd ?? cfg.lint_cmd),
    buildCmd: argv(flags.buildCmd ?? cfg.build_cmd),
    timeoutSec: flags.timeoutSec ?? cfg.timeout_sec ?? 180,
    shellTimeoutSec: flags.shellTimeoutSec ?? cfg.shell_timeout_sec ?? 60,
    episodeLength: (flags.episodeLen ?? cfg.episode_len ?? 1) || 1,
    reward: {
      weights: { ...DEFAULT_REWARD.weights, ...cfg.weights },
      penaltyKinds: cfg.penalty_kinds,
      clamp01Kinds: cfg.clamp01_kinds,
      scales: cfg.scales,
    },
  };
}

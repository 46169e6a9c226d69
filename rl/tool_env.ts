/**
 * The coding-tool env: each action runs for real in a workspace — the project's tests, linter or build
 * (through the agent's toolchain runner, or explicit commands), applying a configured patch (tests run on
 * the patched tree, then the patch is reverted), or a shell action confined to the workspace (ls, pwd, cat,
 * cd, run). The action's metrics go through the verifiers and {@link aggregateReward}. The observation has
 * a constant size: the verifier vector (zeros after reset) followed by context features (a one-hot of the
 * previous action and the episode's progress).
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import type { ToolchainAction, ToolchainResult } from "../agent/mod.ts";
import { UserError } from "../core/errors.ts";
import { resolveInside, resolveWorkspace } from "../core/workspace.ts";
import { checkAction, type Env, type ResetResult, type StepResult } from "./env.ts";
import {
  type ActionMetrics,
  aggregateReward,
  DEFAULT_REWARD,
  DEFAULT_VERIFIERS,
  type RewardConfig,
} from "./reward.ts";

type AgentFace = typeof import("../agent/mod.ts");
let agentFace: Promise<AgentFace> | undefined;

/**
 * The agent's toolchain runner and patch applier, loaded on the first action that needs them, so importing
 * `rl/mod.ts` (every `rl` command, CartPole and bandit training) does not load the patch code and npm `diff`.
 */
function agent(): Promise<AgentFace> {
  return agentFace ??= import("../agent/mod.ts");
}

/** Every tool action, in the reference's order. */
export const TOOL_ACTIONS = [
  "run_tests",
  "lint",
  "build",
  "patch",
  "shell_ls",
  "shell_pwd",
  "shell_cat",
  "shell_cd",
  "shell_run",
] as const;

/** A tool action name. */
export type ToolActionName = typeof TOOL_ACTIONS[number];

const ALIASES: Record<string, ToolActionName> = {
  run_tests: "run_tests",
  tests: "run_tests",
  test: "run_tests",
  lint: "lint",
  build: "build",
  patch: "patch",
  shell_ls: "shell_ls",
  ls: "shell_ls",
  list: "shell_ls",
  shell_pwd: "shell_pwd",
  pwd: "shell_pwd",
  shell_cat: "shell_cat",
  cat: "shell_cat",
  view: "shell_cat",
  shell_cd: "shell_cd",
  cd: "shell_cd",
  chdir: "shell_cd",
  shell_run: "shell_run",
  shell: "shell_run",
  sh: "shell_run",
  run: "shell_run",
  cli: "shell_run",
};

/** Maps an action name, alias or index to its canonical name. */
export function toolActionFromAny(value: string | number): ToolActionName {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0 || value >= TOOL_ACTIONS.length) {
      throw new UserError(`tool action index ${value} is out of range 0..${TOOL_ACTIONS.length - 1}`);
    }
    return TOOL_ACTIONS[value];
  }
  const name = ALIASES[value.trim().toLowerCase().replace(/-/g, "_")];
  if (!name) {
    throw new UserError(`unknown tool action '${value}': use one of ${TOOL_ACTIONS.join(", ")}`);
  }
  return name;
}

/** Options for {@link makeToolEnv} (JSON-serialisable so workers can build it). */
export interface ToolEnvOptions {
  /** Workspace root (required). */
  workspace: string;
  /** Actions to offer, in order (names or aliases; default all nine). */
  actions?: string[];
  /** Per-action arguments: `patch: {patch | patchFile}`, `shell_cat: {path}`, `shell_cd: {path}`,
   * `shell_run: {command: string[]}`, `run_tests|lint|build: {extraArgs}`. */
  actionArgs?: Record<string, Record<string, unknown>>;
  /** Explicit commands (argv) instead of the detected toolchain. */
  testCmd?: string[];
  lintCmd?: string[];
  buildCmd?: string[];
  /** Seconds for tests/lint/build/patch (default 180). */
  timeoutSec?: number;
  /** Seconds for shell actions (default 60). */
  shellTimeoutSec?: number;
  /** Steps per episode (default 1). */
  episodeLength?: number;
  /** Reward settings (merged over {@link DEFAULT_REWARD}). */
  reward?: RewardConfig;
}

const MAX_CAT_BYTES = 64 * 1024;

/**
 * Whether the tool itself ran: an error (a refused path, a missing target), a timeout, or a shell command's
 * non-zero exit is a failure. It enters the reward through `quality_ok` (one of the `quality_*` metrics that
 * `quality_avg` averages). The tools with verifiers of their own (tests, lint, build, patch) are judged by
 * those; for the shell tools this is the only signal, and without it a `shell_run` that failed scored the
 * same as one that worked.
 */
function toolRan(metrics: ActionMetrics): boolean {
  return !metrics.error && !metrics.timed_out && !metrics.shell_exit_code;
}

/** The coding-tool env. */
export class ToolEnv implements Env {
  readonly observationSize: number;
  readonly actionCount: number;
  readonly actionNames: ToolActionName[];
  readonly workspace: string;
  readonly episodeLength: number;
  readonly reward: Required<RewardConfig>;
  #options: ToolEnvOptions;
  #cwd: string;
  #t = 0;
  #lastAction = -1;

  constructor(options: ToolEnvOptions) {
    if (!options || typeof options.workspace !== "string") {
      throw new UserError("the tool env needs a workspace (options.workspace)");
    }
    this.workspace = resolveWorkspace(options.workspace);
    const names = (options.actions && options.actions.length ? options.actions : [...TOOL_ACTIONS])
      .map((a) => toolActionFromAny(a));
    if (new Set(names).size !== names.length) throw new UserError("tool env actions must not repeat");
    this.actionNames = names;
    this.actionCount = names.length;
    this.episodeLength = Math.max(1, options.episodeLength ?? 1);
    this.observationSize = DEFAULT_VERIFIERS.length + this.actionCount + 1;
    this.reward = {
      weights: { ...DEFAULT_REWARD.weights, ...options.reward?.weights },
      penaltyKinds: options.reward?.penaltyKinds ?? DEFAULT_REWARD.penaltyKinds,
      clamp01Kinds: options.reward?.clamp01Kinds ?? DEFAULT_REWARD.clamp01Kinds,
      scales: { ...DEFAULT_REWARD.scales, ...options.reward?.scales },
    };
    this.#options = options;
    this.#cwd = this.workspace;
  }

  /** Starts an episode in the workspace root. */
  reset(_seed?: number): ResetResult {
    this.#t = 0;
    this.#lastAction = -1;
    this.#cwd = this.workspace;
    return { obs: this.#observation(new Array(DEFAULT_VERIFIERS.length).fill(0)), info: { t: 0 } };
  }

  /** Runs the action for real and scores it. */
  async step(action: number): Promise<StepResult> {
    checkAction(action, this.actionCount);
    const name = this.actionNames[action];
    const started = performance.now();
    let metrics: ActionMetrics;
    let detail: Record<string, unknown> = {};
    try {
      ({ metrics, detail } = await this.#run(name));
    } catch (err) {
      // A failing tool is a bad outcome for the policy, not a crash of the training run.
      metrics = { error: 1 };
      detail = { error: err instanceof Error ? err.message : String(err) };
    }
    metrics.quality_policy ??= 1;
    metrics.quality_ok ??= toolRan(metrics) ? 1 : 0;
    const scored = aggregateReward(metrics, DEFAULT_VERIFIERS, this.reward);
    this.#t++;
    this.#lastAction = action;
    return {
      obs: this.#observation(scored.values),
      reward: scored.reward,
      terminated: this.#t >= this.episodeLength,
      truncated: false,
      info: {
        tool: name,
        verifier_scores: scored.raw,
        metrics,
        ...detail,
        duration_s: (performance.now() - started) / 1000,
      },
    };
  }

  #observation(verifierValues: number[]): Float64Array {
    const obs = new Float64Array(this.observationSize);
    obs.set(verifierValues, 0);
    if (this.#lastAction >= 0) obs[DEFAULT_VERIFIERS.length + this.#lastAction] = 1;
    obs[this.observationSize - 1] = this.#t / this.episodeLength;
    return obs;
  }

  #args(name: string): Record<string, unknown> {
    return this.#options.actionArgs?.[name] ?? {};
  }

  async #toolchain(action: ToolchainAction): Promise<ToolchainResult> {
    const { parseLintIssues, parseTestCounts, runCommand, runToolchain } = await agent();
    const timeoutMs = (this.#options.timeoutSec ?? 180) * 1000;
    const explicit = action === "test"
      ? this.#options.testCmd
      : action === "lint"
      ? this.#options.lintCmd
      : this.#options.buildCmd;
    const extra = (this.#args(action === "test" ? "run_tests" : action).extraArgs as string[] | undefined) ??
      [];
    if (explicit && explicit.length) {
      const command = [...explicit, ...extra];
      const r = await runCommand(command, this.workspace, { timeoutMs });
      const out: ToolchainResult = {
        action,
        toolchain: "make",
        command,
        ...r,
        ok: r.exitCode === 0 && !r.timedOut && !r.aborted,
      };
      if (action === "test") {
        out.counts = parseTestCounts(r.output);
        if (out.counts && out.counts.passed + out.counts.failed > 0) {
          out.passRate = out.counts.passed / (out.counts.passed + out.counts.failed);
        }
      }
      if (action === "lint") out.issues = parseLintIssues(r.output, r.exitCode);
      return out;
    }
    return await runToolchain(this.workspace, action, { timeoutMs, extraArgs: extra });
  }

  async #tests(): Promise<{ metrics: ActionMetrics; detail: Record<string, unknown> }> {
    const r = await this.#toolchain("test");
    const c = r.counts;
    const passRate = r.passRate ?? (c ? (c.total ? c.passed / c.total : 0) : r.ok ? 1 : 0);
    return {
      metrics: {
        pass_rate: passRate,
        tests_total: c?.total ?? 0,
        tests_passed: c?.passed ?? 0,
        tests_failed: c?.failed ?? 0,
        exit_code: r.exitCode,
        timed_out: r.timedOut ? 1 : 0,
      },
      detail: { command: r.command.join(" ") },
    };
  }

  async #run(name: ToolActionName): Promise<{ metrics: ActionMetrics; detail: Record<string, unknown> }> {
    const { runCommand } = await agent();
    const shellMs = (this.#options.shellTimeoutSec ?? 60) * 1000;
    switch (name) {
      case "run_tests":
        return await this.#tests();
      case "lint": {
        const r = await this.#toolchain("lint");
        const issues = r.issues ?? (r.ok ? 0 : 1);
        return {
          metrics: { lint_ok: r.ok && issues === 0 ? 1 : 0, lint_issues: issues, exit_code: r.exitCode },
          detail: { command: r.command.join(" ") },
        };
      }
      case "build": {
        const r = await this.#toolchain("build");
        return {
          metrics: { build_ok: r.ok ? 1 : 0, exit_code: r.exitCode },
          detail: { command: r.command.join(" ") },
        };
      }
      case "patch":
        return await this.#patch();
      case "shell_ls": {
        const r = await runCommand(["ls", "-1A"], this.#cwd, { timeoutMs: shellMs });
        const lines = r.output.split("\n").filter((l) => l.trim() !== "");
        return {
          metrics: { shell_exit_code: r.exitCode, shell_stdout_lines: lines.length },
          detail: { cwd: this.#rel(this.#cwd), stdout: r.output.slice(0, 4000) },
        };
      }
      case "shell_pwd":
        return { metrics: { shell_exit_code: 0 }, detail: { cwd: this.#rel(this.#cwd) } };
      case "shell_cat": {
        const target = String(this.#args("shell_cat").path ?? "README.md");
        const abs = resolveInside(this.workspace, resolve(this.#cwd, target));
        const bytes = await Deno.readFile(abs).catch((err) => {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
          throw new UserError(
            `shell_cat: ${this.#rel(abs)} does not exist: name a file with --cat-path P ` +
              `(.dspy_rl.json: action_args.shell_cat.path)`,
          );
        });
        const text = new TextDecoder().decode(bytes.subarray(0, MAX_CAT_BYTES));
        return {
          metrics: { shell_exit_code: 0, shell_bytes: bytes.length },
          detail: { shell_target: this.#rel(abs), stdout: text.slice(0, 4000) },
        };
      }
      case "shell_cd": {
        const target = String(this.#args("shell_cd").path ?? ".");
        try {
          const abs = resolveInside(this.workspace, resolve(this.#cwd, target));
          if (!(await Deno.stat(abs)).isDirectory) throw new UserError(`${target} is not a directory`);
          this.#cwd = abs;
          return { metrics: { shell_cd_ok: 1, shell_exit_code: 0 }, detail: { cwd: this.#rel(abs) } };
        } catch (err) {
          return {
            metrics: { shell_cd_ok: 0, shell_exit_code: 1 },
            detail: { cwd: this.#rel(this.#cwd), error: err instanceof Error ? err.message : String(err) },
          };
        }
      }
      case "shell_run": {
        const raw = this.#args("shell_run").command;
        const command = Array.isArray(raw)
          ? raw.map(String)
          : typeof raw === "string"
          ? raw.split(/\s+/)
          : [];
        if (command.length === 0 || command[0] === "") {
          throw new UserError(
            "shell_run has no command: pass --shell-cmd C (.dspy_rl.json: action_args.shell_run.command; " +
              "library: actionArgs.shell_run.command, an argv list)",
          );
        }
        // Paths in the arguments must stay inside the workspace.
        for (const arg of command.slice(1)) {
          if (arg.includes("/") || arg === "..") resolveInside(this.workspace, resolve(this.#cwd, arg));
        }
        const r = await runCommand(command, this.#cwd, { timeoutMs: shellMs });
        return {
          metrics: {
            shell_exit_code: r.exitCode,
            shell_stdout_lines: r.output.split("\n").filter((l) => l !== "").length,
            timed_out: r.timedOut ? 1 : 0,
          },
          detail: {
            shell_cmd: command.join(" "),
            cwd: this.#rel(this.#cwd),
            stdout: r.output.slice(0, 4000),
          },
        };
      }
    }
  }

  async #patch(): Promise<{ metrics: ActionMetrics; detail: Record<string, unknown> }> {
    const args = this.#args("patch");
    let text = typeof args.patch === "string" ? args.patch : "";
    if (!text && typeof args.patchFile === "string") {
      text = await Deno.readTextFile(resolveInside(this.workspace, join(this.workspace, args.patchFile)));
    }
    if (!text.trim()) {
      return { metrics: { pass_rate: 0, blast_radius: 0, patch_skipped: 1 }, detail: { result: "skipped" } };
    }
    const { applyPatchText, revertPatch } = await agent();
    const applied = await applyPatchText(this.workspace, text, {
      source: "rl",
      emit: false,
      task: "rl tool env",
    });
    let tests;
    try {
      tests = await this.#tests();
    } finally {
      if (args.revert !== false) await revertPatch(this.workspace, applied.id, { emit: false });
    }
    return {
      metrics: {
        ...tests.metrics,
        blast_radius: applied.added + applied.removed,
        lines_added: applied.added,
        lines_removed: applied.removed,
        patch_files: applied.files.length,
      },
      detail: { patch_id: applied.id, files: applied.files, reverted: args.revert !== false },
    };
  }

  #rel(abs: string): string {
    return relative(this.workspace, abs) || ".";
  }
}

/** Env factory for specs and workers. */
export function makeToolEnv(options: ToolEnvOptions): ToolEnv {
  return new ToolEnv(options);
}

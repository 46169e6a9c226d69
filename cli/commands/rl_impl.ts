/**
 * Implementation of `rl train|ppo|eval|sweep|status` (loaded lazily by `cli/commands/rl.ts`). Heavy
 * training runs in a Worker (`trainInWorker`) so the CLI keeps drawing progress and handling Ctrl-C; every
 * run writes `.dspy/rl/runs/<id>/metrics.jsonl` and `summary.json`, and emits the `rl.*` events.
 *
 * @module
 */

import { join, resolve } from "node:path";
import {
  atomicWriteJson,
  emitAction,
  emitMetric,
  UsageError,
  UserError,
  workspacePaths,
} from "../../core/mod.ts";
import {
  aggregateReward,
  type BanditState,
  builtinEnvSpec,
  createActorCritic,
  DEFAULT_REWARD,
  DEFAULT_SWEEP_SPACE,
  DEFAULT_VERIFIERS,
  type EnvSpec,
  evaluatePolicy,
  evaluateRandom,
  loadCheckpoint,
  makeEnvFromSpec,
  normalizePolicy,
  Rng,
  runMetricsFile,
  runSweep,
  type SearchSpace,
  TOOL_ACTIONS,
  toolActionFromAny,
  ToolEnv,
  type ToolEnvOptions,
  trainBandit,
  trainInWorker,
  type TrainLogEntry,
  validateSpace,
  type WorkerTrainOptions,
  type WorkerTrainResult,
} from "../../rl/mod.ts";
import {
  type CommandContext,
  type CommandResult,
  intOption,
  numberOption,
  parseCommandArgs,
} from "../command.ts";
import { guard } from "../../core/guard.ts";

const SUBCOMMANDS = ["train", "ppo", "eval", "sweep", "status"];

/** `rl SUBCOMMAND ...`. */
export function runRl(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "train":
      return runTrain(rest, ctx);
    case "ppo":
    case "neural":
      return runPpo(rest, ctx);
    case "eval":
      return runEval(rest, ctx);
    case "sweep":
      return runSweepCommand(rest, ctx);
    case "status":
      return runStatus(rest, ctx);
    case undefined:
      throw new UsageError(`rl: missing subcommand (${SUBCOMMANDS.join(", ")}). See 'dspy-code rl --help'.`);
    default:
      throw new UsageError(
        `rl: unknown subcommand '${sub}' (use ${SUBCOMMANDS.join(", ")}). See 'dspy-code rl --help'.`,
      );
  }
}

// ---------------------------------------------------------------------------------------------- config

/** `.dspy_rl.json` merged with `.dspy/rl/best.json`'s config (the sweep's winner wins). */
interface RlFileConfig {
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

async function readJsonFile(path: string): Promise<Record<string, unknown> | null> {
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

async function loadRlConfig(workspace: string): Promise<RlFileConfig> {
  const base = (await readJsonFile(join(workspace, ".dspy_rl.json"))) ?? {};
  const best = await readJsonFile(join(workspacePaths(workspace).rlDir, "best.json"));
  const tuned = (best?.config ?? {}) as Record<string, unknown>;
  const weights = { ...(base.weights as object ?? {}), ...(tuned.weights as object ?? {}) };
  return { ...base, ...tuned, weights } as RlFileConfig;
}

function argv(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map(String);
  const parts = value.trim().split(/\s+/).filter(Boolean);
  return parts.length ? parts : undefined;
}

const TOOL_ENV_FLAGS = {
  actions: { type: "string" },
  "test-cmd": { type: "string" },
  "lint-cmd": { type: "string" },
  "build-cmd": { type: "string" },
  "patch-file": { type: "string" },
  "shell-cmd": { type: "string" },
  "cat-path": { type: "string" },
  "cd-path": { type: "string" },
  "timeout-sec": { type: "string" },
  "shell-timeout-sec": { type: "string" },
  "episode-len": { type: "string" },
} as const;

function toolEnvOptions(
  cmd: string,
  values: Record<string, unknown>,
  workspace: string,
  cfg: RlFileConfig,
  overrides: { timeoutSec?: number; weights?: Record<string, number> } = {},
): ToolEnvOptions {
  const str = (k: string) => values[k] as string | undefined;
  const actions = str("actions")?.split(",").map((a) => a.trim()).filter(Boolean) ?? cfg.actions;
  actions?.forEach((a) => toolActionFromAny(a));
  const actionArgs: Record<string, Record<string, unknown>> = structuredClone(cfg.action_args ?? {});
  if (str("patch-file")) actionArgs.patch = { ...actionArgs.patch, patchFile: str("patch-file") };
  if (str("shell-cmd")) actionArgs.shell_run = { ...actionArgs.shell_run, command: argv(str("shell-cmd")) };
  if (str("cat-path")) actionArgs.shell_cat = { ...actionArgs.shell_cat, path: str("cat-path") };
  if (str("cd-path")) actionArgs.shell_cd = { ...actionArgs.shell_cd, path: str("cd-path") };
  return {
    workspace,
    actions,
    actionArgs,
    testCmd: argv(str("test-cmd") ?? cfg.test_cmd),
    lintCmd: argv(str("lint-cmd") ?? cfg.lint_cmd),
    buildCmd: argv(str("build-cmd") ?? cfg.build_cmd),
    timeoutSec: overrides.timeoutSec ??
      intOption(cmd, "timeout-sec", str("timeout-sec"), cfg.timeout_sec ?? 180),
    shellTimeoutSec: intOption(
      cmd,
      "shell-timeout-sec",
      str("shell-timeout-sec"),
      cfg.shell_timeout_sec ?? 60,
    ),
    episodeLength: intOption(cmd, "episode-len", str("episode-len"), cfg.episode_len ?? 1) || 1,
    reward: {
      weights: { ...DEFAULT_REWARD.weights, ...cfg.weights, ...overrides.weights },
      penaltyKinds: cfg.penalty_kinds,
      clamp01Kinds: cfg.clamp01_kinds,
      scales: cfg.scales,
    },
  };
}

function newRunId(kind: string): string {
  const d = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "");
  return `${kind}-${d}-${crypto.randomUUID().slice(0, 6)}`;
}

function round(x: number | null | undefined, digits = 3): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits));
}

// ---------------------------------------------------------------------------------------------- ppo

async function runPpo(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const cmd = "rl";
  const { values } = parseCommandArgs(cmd, args, {
    env: { type: "string" },
    steps: { type: "string" },
    "n-envs": { type: "string" },
    "env-workers": { type: "string" },
    lr: { type: "string" },
    entropy: { type: "string" },
    "entropy-coef": { type: "string" },
    "replay-capacity": { type: "string" },
    "replay-batch": { type: "string" },
    "grad-clip": { type: "string" },
    epochs: { type: "string" },
    minibatches: { type: "string" },
    rollout: { type: "string" },
    gamma: { type: "string" },
    "gae-lambda": { type: "string" },
    clip: { type: "string" },
    "vf-coef": { type: "string" },
    hidden: { type: "string" },
    "no-anneal": { type: "boolean" },
    "checkpoint-dir": { type: "string" },
    "checkpoint-interval": { type: "string" },
    "early-stop": { type: "string" },
    seed: { type: "string" },
    resume: { type: "string" },
    solve: { type: "string" },
    "stop-when-solved": { type: "boolean" },
    "bandit-means": { type: "string" },
    json: { type: "boolean" },
    ...TOOL_ENV_FLAGS,
  }, { max: 0 });
  // Resuming without --env continues on the checkpoint's env (and its options, e.g. the bandit's means).
  type EnvDesc = { name?: string; options?: Record<string, unknown> };
  const resumedEnv: EnvDesc | null = values.resume && values.env === undefined
    ? ((await loadCheckpoint(resolve(ctx.workspace, values.resume))).meta.state.env as EnvDesc | undefined) ??
      null
    : null;
  const envName = values.env ?? resumedEnv?.name ?? "cartpole";
  if (!["cartpole", "bandit", "tool"].includes(envName)) {
    throw new UsageError(`rl ppo: --env must be cartpole, bandit or tool, got '${envName}'`);
  }
  const ws = ctx.workspace;
  const paths = workspacePaths(ws);
  let envOptions: Record<string, unknown> = envName === "bandit" ? { ...resumedEnv?.options } : {};
  if (envName === "bandit" && values["bandit-means"]) {
    const means = values["bandit-means"].split(",").map(Number);
    if (means.some((m) => !Number.isFinite(m))) {
      throw new UsageError("rl ppo: --bandit-means takes numbers like 0.1,0.9");
    }
    envOptions = { means };
  }
  if (envName === "tool") {
    envOptions = toolEnvOptions(cmd, values, ws, await loadRlConfig(ws)) as unknown as Record<
      string,
      unknown
    >;
  }
  const nEnvs = intOption(cmd, "n-envs", values["n-envs"], envName === "tool" ? 1 : 8, 1);
  if (envName === "tool" && nEnvs !== 1) {
    throw new UsageError(
      "rl ppo: the tool env runs in one workspace, so use --n-envs 1 (parallel envs would race)",
    );
  }
  const hidden = values.hidden?.split(/[,x]/).map((h) => Number(h.trim()));
  if (hidden && hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new UsageError(`rl ppo: --hidden takes widths like 64,64, got '${values.hidden}'`);
  }
  const num = (flag: string) =>
    values[flag as keyof typeof values] === undefined
      ? undefined
      : numberOption(cmd, flag, values[flag as keyof typeof values] as string, 0);
  const int = (flag: string) =>
    values[flag as keyof typeof values] === undefined
      ? undefined
      : intOption(cmd, flag, values[flag as keyof typeof values] as string, 0);
  const runId = newRunId("ppo");
  const runDir = join(paths.rlDir, "runs", runId);
  const steps = intOption(cmd, "steps", values.steps, envName === "cartpole" ? 150_000 : 10_000);
  const options: WorkerTrainOptions = {
    env: envName,
    envOptions,
    steps,
    nEnvs,
    envWorkers: int("env-workers"),
    lr: num("lr"),
    entropyCoef: num("entropy") ?? num("entropy-coef"),
    replayCapacity: int("replay-capacity"),
    replayBatch: int("replay-batch"),
    gradClip: num("grad-clip"),
    epochs: int("epochs"),
    minibatches: int("minibatches"),
    rolloutLength: int("rollout") ?? (envName === "tool" ? 8 : undefined),
    gamma: num("gamma"),
    gaeLambda: num("gae-lambda"),
    clip: num("clip"),
    vfCoef: num("vf-coef"),
    hidden,
    lrAnneal: values["no-anneal"] ? false : undefined,
    checkpointDir: values["checkpoint-dir"]
      ? resolve(ws, values["checkpoint-dir"])
      : join(runDir, "checkpoints"),
    checkpointInterval: int("checkpoint-interval"),
    earlyStopPatience: int("early-stop"),
    seed: int("seed"),
    resume: values.resume ? resolve(ws, values.resume) : undefined,
    solveThreshold: num("solve") ?? (envName === "cartpole" ? 475 : undefined),
    stopWhenSolved: values["stop-when-solved"] ?? undefined,
    metricsFile: runMetricsFile(paths.rlDir, runId),
    ...(envName === "tool" ? { minibatches: int("minibatches") ?? 2 } : {}),
  };
  for (const k of Object.keys(options) as (keyof WorkerTrainOptions)[]) {
    if (options[k] === undefined) delete options[k];
  }
  const result = await trainWithEvents(ctx, options, runDir, runId, "ppo");
  return { ok: true, data: result };
}

async function trainWithEvents(
  ctx: CommandContext,
  options: WorkerTrainOptions,
  runDir: string,
  runId: string,
  kind: "ppo" | "neural",
): Promise<Record<string, unknown>> {
  const envName = typeof options.env === "string" ? options.env : "custom";
  await guard(ctx.workspace, { operation: `rl ${kind}` });
  const startPayload = {
    n_envs: options.nEnvs ?? 8,
    total_steps: options.steps,
    env: envName,
    run_id: runId,
  };
  if (kind === "ppo") emitAction("rl.ppo.start", startPayload);
  emitAction("rl.neural.start", {
    steps: options.steps,
    n_envs: options.nEnvs ?? 8,
    env: envName,
    run_id: runId,
  });
  await Deno.mkdir(runDir, { recursive: true });
  const bar = ctx.out.json ? null : ctx.out.progress(options.steps ?? 0, `${envName} ppo`);
  let lastStep = 0;
  let lastSummary = 0;
  const onLog = (e: TrainLogEntry) => {
    bar?.tick(e.step - lastStep, `avg ${e.avg_reward === null ? "-" : e.avg_reward.toFixed(1)}`);
    lastStep = e.step;
    const now = performance.now();
    if (now - lastSummary > 2000) {
      lastSummary = now;
      emitMetric("rl.neural.summary", {
        steps: e.step,
        avg_reward: e.avg_reward,
        update: e.update,
        entropy: round(e.entropy, 4),
        steps_per_s: Math.round(e.steps_per_s),
        run_id: runId,
      });
    }
  };
  let result: WorkerTrainResult;
  try {
    result = await trainInWorker(options, { onLog, signal: ctx.signal });
  } catch (err) {
    // A run that never trained (bad --resume, bad settings) leaves no run folder behind for `rl status`;
    // one that failed part-way says so in its summary.
    const trained = options.metricsFile
      ? await Deno.stat(options.metricsFile).then(() => true, () => false)
      : false;
    if (!trained) await Deno.remove(runDir, { recursive: true }).catch(() => {});
    else {
      await atomicWriteJson(join(runDir, "summary.json"), {
        run_id: runId,
        kind,
        env: envName,
        status: "failed",
        error: err instanceof Error ? err.message : String(err),
        finished_at: new Date().toISOString(),
      }).catch(() => {});
    }
    throw err;
  } finally {
    bar?.done();
  }
  if (options.resume && options.metricsFile) {
    const trained = await Deno.stat(options.metricsFile).then(() => true, () => false);
    if (!trained) {
      ctx.out.warn(
        `the checkpoint already has ${result.steps} env steps, which reaches --steps ${options.steps} ` +
          `(--steps counts the checkpoint's steps too): nothing was trained`,
      );
    }
  }
  const summary = {
    run_id: runId,
    kind,
    env: envName,
    env_steps: result.steps,
    wall_s: round(result.wallS, 3),
    steps_per_s: Math.round(result.stepsPerS),
    mean_return_last100: round(result.meanReturnLast100, 3),
    solved_at_step: result.solvedAtStep,
    episodes: result.episodes,
    best_avg: round(result.bestAvg, 3),
    stopped_early: result.stoppedEarly,
    stop_reason: result.stopReason,
    updates: result.updates,
    seed: result.seed,
    checkpoint: result.checkpoint,
    run_dir: runDir,
    metrics_file: options.metricsFile,
    config: result.config,
    finished_at: new Date().toISOString(),
  };
  await atomicWriteJson(join(runDir, "summary.json"), summary);
  emitMetric("rl.neural.summary", {
    steps: result.steps,
    avg_reward: result.meanReturnLast100,
    run_id: runId,
  });
  const finished = {
    steps: result.steps,
    avg_reward: result.meanReturnLast100,
    episodes: result.episodes,
    solved_at_step: result.solvedAtStep,
    steps_per_s: Math.round(result.stepsPerS),
    stop_reason: result.stopReason,
    run_id: runId,
  };
  emitAction("rl.neural.finished", finished);
  if (kind === "ppo") {
    emitAction("rl.ppo.finished", { n_envs: startPayload.n_envs, total_steps: options.steps, ...finished });
  }
  if (ctx.out.json) {
    const { config: _c, ...rest } = summary;
    ctx.out.printJson(rest);
  } else {
    ctx.out.panel(`rl ${kind} · ${envName}`, [
      ["env steps", String(result.steps)],
      ["wall time", `${result.wallS.toFixed(1)} s`],
      ["steps/s", String(Math.round(result.stepsPerS))],
      ["episodes", String(result.episodes)],
      [
        "mean return (last 100)",
        result.meanReturnLast100 === null ? "-" : result.meanReturnLast100.toFixed(2),
      ],
      ["solved at step", result.solvedAtStep === null ? "not solved" : String(result.solvedAtStep)],
      ["stopped", result.stopReason],
      ["seed", String(result.seed)],
      ["checkpoint", result.checkpoint ?? "-"],
      ["metrics", options.metricsFile ?? "-"],
    ]);
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------- train

async function runTrain(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const cmd = "rl";
  const { values } = parseCommandArgs(cmd, args, {
    steps: { type: "string" },
    "n-envs": { type: "string" },
    policy: { type: "string" },
    epsilon: { type: "string" },
    "ucb-c": { type: "string" },
    seed: { type: "string" },
    fresh: { type: "boolean" },
    neural: { type: "boolean" },
    json: { type: "boolean" },
    ...TOOL_ENV_FLAGS,
  }, { max: 0 });
  const ws = ctx.workspace;
  await guard(ws, { operation: "rl train" });
  const paths = workspacePaths(ws);
  const cfg = await loadRlConfig(ws);
  const envOptions = toolEnvOptions(cmd, values, ws, cfg);
  const steps = intOption(cmd, "steps", values.steps, cfg.trainer?.steps ?? 200);
  const nEnvs = intOption(cmd, "n-envs", values["n-envs"], 1, 1);
  if (nEnvs !== 1) {
    throw new UsageError(
      "rl train: the tool env runs in one workspace, so use --n-envs 1 (parallel envs would race)",
    );
  }
  const seed = values.seed === undefined ? undefined : intOption(cmd, "seed", values.seed, 0);
  if (values.neural) {
    const runId = newRunId("neural");
    const runDir = join(paths.rlDir, "runs", runId);
    const result = await trainWithEvents(
      ctx,
      {
        env: "tool",
        envOptions: envOptions as unknown as Record<string, unknown>,
        steps,
        nEnvs: 1,
        rolloutLength: 8,
        minibatches: 2,
        seed,
        checkpointDir: join(runDir, "checkpoints"),
        metricsFile: runMetricsFile(paths.rlDir, runId),
      },
      runDir,
      runId,
      "neural",
    );
    return { ok: true, data: result };
  }
  const policy = normalizePolicy(values.policy ?? cfg.policy ?? "epsilon-greedy");
  const epsilon = numberOption(cmd, "epsilon", values.epsilon, cfg.epsilon ?? 0.1);
  const ucbC = numberOption(cmd, "ucb-c", values["ucb-c"], cfg.ucb_c ?? 2.0);
  const env = new ToolEnv(envOptions);
  emitAction("rl.train.start", { policy, steps, n_envs: 1 });
  emitMetric("rl.train.env_ready", { actions: [...env.actionNames], puffer: false });
  const statePath = join(paths.rlDir, "toolchain_bandit.json");
  const runId = newRunId("train");
  const metricsFile = runMetricsFile(paths.rlDir, runId);
  await Deno.mkdir(join(paths.rlDir, "runs", runId), { recursive: true });
  const bar = ctx.out.json ? null : ctx.out.progress(steps, "rl train");
  const started = performance.now();
  const lines: string[] = [];
  const warned = new Set<string>();
  let result;
  try {
    result = await trainBandit({
      env,
      steps,
      policy,
      epsilon,
      ucbC,
      seed,
      statePath,
      fresh: values.fresh,
      signal: ctx.signal,
      onStep: (s) => {
        bar?.tick(1, `${s.action} ${s.reward.toFixed(2)}`);
        if (s.info.error && !warned.has(s.action)) {
          warned.add(s.action);
          ctx.out.warn(`${s.action} failed (scored as a bad outcome): ${s.info.error}`);
        }
        lines.push(JSON.stringify({
          ts: Date.now() / 1000,
          step: s.step,
          tool: s.action,
          reward: s.reward,
          verifier_scores: s.info.verifier_scores,
        }));
      },
    });
  } finally {
    bar?.done();
    if (lines.length) await Deno.writeTextFile(metricsFile, lines.join("\n") + "\n", { append: true });
  }
  const ranking = result.bandit.ranking();
  const wallS = (performance.now() - started) / 1000;
  const summary = {
    run_id: runId,
    kind: "train",
    policy,
    steps: result.steps,
    avg_reward: round(result.avgReward, 4),
    best_tool: ranking[0]?.tool ?? null,
    ranking,
    wall_s: round(wallS, 3),
    state_file: statePath,
    metrics_file: metricsFile,
    finished_at: new Date().toISOString(),
  };
  await atomicWriteJson(join(paths.rlDir, "runs", runId, "summary.json"), summary);
  emitAction("rl.train.finished", {
    policy,
    steps: result.steps,
    avg_reward: result.avgReward,
    best_tool: summary.best_tool,
  });
  if (ctx.out.json) ctx.out.printJson(summary);
  else {
    ctx.out.print(
      `rl train: ${result.steps} steps with ${policy}, average reward ${
        result.avgReward?.toFixed(3) ?? "-"
      } ` +
        `(${wallS.toFixed(1)} s); state in ${statePath}`,
    );
    ctx.out.table(
      ["tool", "value", "count"],
      ranking.map((r) => [r.tool, Number(r.value.toFixed(4)), r.count]),
    );
  }
  return { ok: true, data: summary };
}

// ---------------------------------------------------------------------------------------------- eval

async function runEval(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const cmd = "rl";
  const { values } = parseCommandArgs(cmd, args, {
    checkpoint: { type: "string" },
    episodes: { type: "string" },
    sample: { type: "boolean" },
    seed: { type: "string" },
    json: { type: "boolean" },
  }, { max: 0 });
  if (!values.checkpoint) {
    throw new UsageError("rl eval: --checkpoint PATH is required (a checkpoint dir or .json)");
  }
  const ck = await loadCheckpoint(resolve(ctx.workspace, values.checkpoint));
  const episodes = intOption(cmd, "episodes", values.episodes, 10) || 1;
  const seed = intOption(cmd, "seed", values.seed, 12345);
  const desc = ck.meta.state.env as
    | { name?: string; options?: Record<string, unknown>; spec?: EnvSpec }
    | null;
  if (!desc) throw new UserError(`${ck.path} does not name its env (it was trained with a makeEnv function)`);
  const spec = desc.spec ?? builtinEnvSpec(desc.name!, desc.options ?? {});
  const env = await makeEnvFromSpec(spec);
  try {
    const hidden = ck.meta.config.hidden as number[];
    const net = createActorCritic(
      { obsSize: env.observationSize, actionCount: env.actionCount, hidden },
      new Rng(0),
    );
    if (net.params.length !== ck.arrays.params.length) {
      throw new UserError(`${ck.path} does not match the env's shape: was it trained on another env?`);
    }
    net.params.set(ck.arrays.params);
    const policy = await evaluatePolicy(net, env, { episodes, greedy: !values.sample, seed });
    const random = await evaluateRandom(env, { episodes, seed });
    const out = {
      checkpoint: ck.path,
      env: desc.name ?? spec.module,
      trained_steps: ck.meta.step,
      episodes,
      mode: values.sample ? "sample" : "greedy",
      mean_return: round(policy.meanReturn, 4),
      min_return: round(policy.minReturn, 4),
      max_return: round(policy.maxReturn, 4),
      random_mean_return: round(random.meanReturn, 4),
    };
    emitMetric("rl.eval", out);
    if (ctx.out.json) ctx.out.printJson(out);
    else {
      ctx.out.panel(`rl eval · ${out.env}`, [
        ["checkpoint", ck.path],
        ["trained steps", String(ck.meta.step)],
        [
          `policy (${out.mode})`,
          `${policy.meanReturn.toFixed(2)} mean over ${episodes} episodes (min ${
            policy.minReturn.toFixed(2)
          }, max ${policy.maxReturn.toFixed(2)})`,
        ],
        ["uniform random", `${random.meanReturn.toFixed(2)} mean`],
      ]);
    }
    return { ok: true, data: out };
  } finally {
    await env.close?.();
  }
}

// ---------------------------------------------------------------------------------------------- sweep

async function runSweepCommand(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const cmd = "rl";
  const { values } = parseCommandArgs(cmd, args, {
    method: { type: "string" },
    iterations: { type: "string" },
    "trainer-steps": { type: "string" },
    space: { type: "string" },
    policy: { type: "string" },
    seed: { type: "string" },
    fresh: { type: "boolean" },
    json: { type: "boolean" },
    ...TOOL_ENV_FLAGS,
  }, { max: 0 });
  const ws = ctx.workspace;
  const paths = workspacePaths(ws);
  const method = (values.method ?? "pareto") as "pareto" | "random";
  if (method !== "pareto" && method !== "random") {
    throw new UsageError(`rl sweep: --method must be pareto or random, got '${values.method}'`);
  }
  const iterations = intOption(cmd, "iterations", values.iterations, 8);
  await guard(ws, { operation: "rl sweep" });
  const trainerSteps = values["trainer-steps"] === undefined
    ? undefined
    : intOption(cmd, "trainer-steps", values["trainer-steps"], 0);
  let space: SearchSpace = DEFAULT_SWEEP_SPACE;
  if (values.space) {
    const parsed = await readJsonFile(resolve(ws, values.space));
    if (!parsed) throw new UserError(`rl sweep: cannot read the space file ${values.space}`);
    if (Array.isArray(parsed) || Object.keys(parsed).length === 0) {
      throw new UserError(
        `rl sweep: ${values.space} must be a JSON object {name: {distribution, min, max, mean}}`,
      );
    }
    space = parsed as unknown as SearchSpace;
    validateSpace(space); // before rl.sweep.start, so a bad file starts nothing
  }
  const cfg = await loadRlConfig(ws);
  const policy = normalizePolicy(values.policy ?? cfg.policy ?? "epsilon-greedy");
  const seed = values.seed === undefined ? undefined : intOption(cmd, "seed", values.seed, 0);
  const baseEnv = toolEnvOptions(cmd, values, ws, cfg);
  emitAction("rl.sweep.start", { method, iterations, policy, params: Object.keys(space) });
  if (!ctx.out.json) {
    ctx.out.info(`rl sweep: ${iterations} trials (${method}) of the ${policy} bandit on the tool env`);
  }
  const state = await runSweep({
    rlDir: paths.rlDir,
    method,
    iterations,
    space,
    seed,
    fresh: values.fresh,
    signal: ctx.signal,
    objective: async (params, iteration) => {
      const weights: Record<string, number> = {};
      for (const [k, v] of Object.entries(params)) if (k.startsWith("weights.")) weights[k.slice(8)] = v;
      const env = new ToolEnv({
        ...baseEnv,
        timeoutSec: params.timeout_sec ?? baseEnv.timeoutSec,
        reward: { ...baseEnv.reward, weights: { ...baseEnv.reward!.weights, ...weights } },
      });
      const steps = trainerSteps ?? Math.round(params["trainer.steps"] ?? 100);
      const r = await trainBandit({
        env,
        steps,
        policy,
        epsilon: params.epsilon,
        ucbC: params.ucb_c,
        seed: seed === undefined ? undefined : seed + iteration,
      });
      // Score every trial with the same (base) reward so different swept weights stay comparable.
      const base = r.infos.map((info) =>
        aggregateReward((info.metrics ?? {}) as Record<string, number>, DEFAULT_VERIFIERS, baseEnv.reward!)
          .reward
      );
      const scores = r.infos.map((info) => (info.verifier_scores ?? {}) as Record<string, number>);
      const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
      return {
        metric: mean(base),
        info: {
          steps,
          avg_reward: r.avgReward,
          avg_pass_rate: mean(scores.map((s) => s.pass_rate ?? 0)),
          avg_blast_radius: mean(scores.map((s) => s.blast_radius ?? 0)),
          best_tool: r.bandit.ranking()[0]?.tool,
        },
      };
    },
    toConfig: (params) => {
      const weights: Record<string, number> = {};
      const config: Record<string, unknown> = { policy };
      for (const [k, v] of Object.entries(params)) {
        if (k.startsWith("weights.")) weights[k.slice(8)] = v;
        else if (k === "trainer.steps") config.trainer = { steps: v };
        else config[k] = v;
      }
      config.weights = weights;
      return config;
    },
    onTrial: (trial, best) => {
      emitMetric("rl.sweep.trial", {
        iteration: trial.iteration,
        params: trial.params,
        metric: trial.metric,
        cost: trial.cost,
        best_metric: best.metric,
      });
      if (!ctx.out.json) {
        ctx.out.info(
          `  trial ${trial.iteration}: reward ${trial.metric.toFixed(4)} in ${trial.cost.toFixed(1)} s` +
            (best === trial ? "  (best so far)" : ""),
        );
      }
    },
  });
  const best = state.best;
  emitAction("rl.sweep.finished", {
    method,
    trials: state.history.length,
    best_metric: best?.metric ?? null,
    best_params: best?.params ?? null,
  });
  const out = {
    method,
    trials: state.history.length,
    best,
    state_file: join(paths.rlDir, "sweep_state.json"),
    best_file: join(paths.rlDir, "best.json"),
  };
  if (ctx.out.json) ctx.out.printJson(out);
  else {
    ctx.out.table(
      ["trial", "reward", "cost s", ...Object.keys(space)],
      state.history.slice(-iterations).map((t) => [
        t.iteration,
        Number(t.metric.toFixed(4)),
        Number(t.cost.toFixed(2)),
        ...Object.keys(space).map((k) => Number((t.params[k] ?? NaN).toPrecision(3))),
      ]),
    );
    if (best) {
      ctx.out.print(
        `best: trial ${best.iteration} reward ${best.metric.toFixed(4)}; saved to ${out.best_file}`,
      );
    }
  }
  return { ok: true, data: out };
}

// ---------------------------------------------------------------------------------------------- status

async function runStatus(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("rl", args, { limit: { type: "string" }, json: { type: "boolean" } }, {
    max: 0,
  });
  const limit = intOption("rl", "limit", values.limit, 10);
  const paths = workspacePaths(ctx.workspace);
  const runs: Record<string, unknown>[] = [];
  try {
    for await (const e of Deno.readDir(join(paths.rlDir, "runs"))) {
      if (!e.isDirectory) continue;
      const summary = await readJsonFile(join(paths.rlDir, "runs", e.name, "summary.json")).catch(() => null);
      runs.push(summary ?? { run_id: e.name, kind: e.name.split("-")[0], status: "running or interrupted" });
    }
  } catch { /* no runs yet */ }
  runs.sort((a, b) => String(b.run_id).localeCompare(String(a.run_id).toString()));
  const bandit = (await readJsonFile(join(paths.rlDir, "toolchain_bandit.json")).catch(() => null)) as
    | BanditState
    | null;
  const best = await readJsonFile(join(paths.rlDir, "best.json")).catch(() => null);
  const sweep = await readJsonFile(join(paths.rlDir, "sweep_state.json")).catch(() => null);
  const out = {
    rl_dir: paths.rlDir,
    runs: runs.slice(0, limit),
    bandit,
    best_config: best?.config ?? null,
    sweep_trials: Array.isArray(sweep?.history) ? (sweep!.history as unknown[]).length : 0,
    actions: [...TOOL_ACTIONS],
  };
  if (ctx.out.json) {
    ctx.out.printJson(out);
    return { ok: true, data: out };
  }
  if (runs.length === 0) ctx.out.print(`no RL runs yet in ${paths.rlDir} (try 'rl ppo --env cartpole')`);
  else {
    ctx.out.table(
      ["run", "kind", "env", "steps", "return/reward", "solved at", "steps/s"],
      runs.slice(0, limit).map((r) =>
        [
          String(r.run_id),
          String(r.kind ?? ""),
          String(r.env ?? (r.kind === "train" ? "tool" : "")) + (r.status ? ` (${r.status})` : ""),
          Number(r.env_steps ?? r.steps ?? 0),
          r.mean_return_last100 ?? r.avg_reward ?? "-" as string | number,
          r.solved_at_step === undefined || r.solved_at_step === null ? "-" : Number(r.solved_at_step),
          r.steps_per_s === undefined ? "-" : Number(r.steps_per_s),
        ] as (string | number)[]
      ),
    );
  }
  if (bandit) {
    ctx.out.print(`tool bandit (${bandit.policy}):`);
    ctx.out.table(
      ["tool", "value", "count"],
      bandit.tools.map((t, i) => [t, Number(bandit.values[i].toFixed(4)), bandit.counts[i]]),
    );
  }
  if (best?.config) ctx.out.print(`best sweep config: ${JSON.stringify(best.config)}`);
  return { ok: true, data: out };
}

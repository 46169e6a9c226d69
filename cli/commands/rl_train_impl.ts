/**
 * `rl ppo` and `rl train` (loaded with `cli/commands/rl_impl.ts`): parse the flags, check the disk guard,
 * and run `rl/`'s recorded runs (`trainPpoRun`, `trainToolBanditRun`) with a progress bar; print the
 * summary (a panel, a table, or JSON).
 *
 * @module
 */

import { resolve } from "node:path";
import { guard, UsageError, workspacePaths } from "../../core/mod.ts";
import {
  loadBestConfig,
  loadCheckpoint,
  loadRlConfig,
  normalizePolicy,
  type PpoRunResult,
  toolEnvOptionsFrom,
  trainPpoRun,
  trainToolBanditRun,
  type WorkerTrainOptions,
} from "../../rl/mod.ts";
import {
  type CommandContext,
  type CommandResult,
  intOption,
  numberOption,
  parseCommandArgs,
} from "../command.ts";
import { TOOL_ENV_FLAGS, toolEnvFlags } from "./rl_flags.ts";

/** `rl ppo`. */
export async function runPpo(args: string[], ctx: CommandContext): Promise<CommandResult> {
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
  let envOptions: Record<string, unknown> = envName === "bandit" ? { ...resumedEnv?.options } : {};
  if (envName === "bandit" && values["bandit-means"]) {
    const means = values["bandit-means"].split(",").map(Number);
    if (means.some((m) => !Number.isFinite(m))) {
      throw new UsageError("rl ppo: --bandit-means takes numbers like 0.1,0.9");
    }
    envOptions = { means };
  }
  if (envName === "tool") {
    envOptions = { ...toolEnvOptionsFrom(ws, await loadRlConfig(ws), toolEnvFlags(cmd, values)) };
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
    checkpointDir: values["checkpoint-dir"] ? resolve(ws, values["checkpoint-dir"]) : undefined,
    checkpointInterval: int("checkpoint-interval"),
    earlyStopPatience: int("early-stop"),
    seed: int("seed"),
    resume: values.resume ? resolve(ws, values.resume) : undefined,
    solveThreshold: num("solve") ?? (envName === "cartpole" ? 475 : undefined),
    stopWhenSolved: values["stop-when-solved"] ?? undefined,
    ...(envName === "tool" ? { minibatches: int("minibatches") ?? 2 } : {}),
  };
  for (const k of Object.keys(options) as (keyof WorkerTrainOptions)[]) {
    if (options[k] === undefined) delete options[k];
  }
  return { ok: true, data: await trainAndPrint(ctx, options, "ppo") };
}

/** Runs PPO as a recorded run with a progress bar, and prints its summary. */
async function trainAndPrint(
  ctx: CommandContext,
  options: WorkerTrainOptions,
  kind: "ppo" | "neural",
): Promise<PpoRunResult["summary"]> {
  const envName = typeof options.env === "string" ? options.env : "custom";
  await guard(ctx.workspace, { operation: `rl ${kind}` });
  const bar = ctx.out.json ? null : ctx.out.progress(options.steps ?? 0, `${envName} ppo`);
  let lastStep = 0;
  let run: PpoRunResult;
  try {
    run = await trainPpoRun(options, {
      rlDir: workspacePaths(ctx.workspace).rlDir,
      kind,
      signal: ctx.signal,
      onLog: (e) => {
        bar?.tick(e.step - lastStep, `avg ${e.avg_reward === null ? "-" : e.avg_reward.toFixed(1)}`);
        lastStep = e.step;
      },
    });
  } finally {
    bar?.done();
  }
  const { summary, result } = run;
  if (run.nothingTrained) {
    ctx.out.warn(
      `the checkpoint already has ${result.steps} env steps, which reaches --steps ${options.steps} ` +
        `(--steps counts the checkpoint's steps too): nothing was trained`,
    );
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
      ["metrics", run.nothingTrained ? "- (nothing trained, no run folder)" : run.options.metricsFile],
    ]);
  }
  return summary;
}

/** `rl train`: the tool bandit (or, with --neural, PPO on the tool env). */
export async function runTrain(args: string[], ctx: CommandContext): Promise<CommandResult> {
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
    "use-best": { type: "boolean" },
    json: { type: "boolean" },
    ...TOOL_ENV_FLAGS,
  }, { max: 0 });
  const ws = ctx.workspace;
  await guard(ws, { operation: "rl train" });
  const best = await loadBestConfig(ws);
  if (values["use-best"]) {
    if (!best) {
      throw new UsageError(
        "rl train: --use-best needs a finished sweep: run 'dspy-code rl sweep' first (no .dspy/rl/best.json)",
      );
    }
    ctx.out.info(`rl train: using the best sweep config from ${best.file}: ${JSON.stringify(best.config)}`);
  } else if (best && !ctx.out.json) {
    ctx.out.info(`rl train: a sweep's best config is in ${best.file}; pass --use-best to train with it`);
  }
  const cfg = await loadRlConfig(ws, { useBest: values["use-best"] });
  const envOptions = toolEnvOptionsFrom(ws, cfg, toolEnvFlags(cmd, values));
  const steps = intOption(cmd, "steps", values.steps, cfg.trainer?.steps ?? 200);
  const nEnvs = intOption(cmd, "n-envs", values["n-envs"], 1, 1);
  if (nEnvs !== 1) {
    throw new UsageError(
      "rl train: the tool env runs in one workspace, so use --n-envs 1 (parallel envs would race)",
    );
  }
  const seed = values.seed === undefined ? undefined : intOption(cmd, "seed", values.seed, 0);
  if (values.neural) {
    const summary = await trainAndPrint(ctx, {
      env: "tool",
      envOptions: { ...envOptions },
      steps,
      nEnvs: 1,
      rolloutLength: 8,
      minibatches: 2,
      seed,
    }, "neural");
    return { ok: true, data: summary };
  }
  // Without --policy (or one in the config) the saved bandit keeps its policy; a switch is said out loud.
  const savedPolicy = values.fresh ? undefined : await savedBanditPolicy(workspacePaths(ws).rlDir);
  const policy = normalizePolicy(values.policy ?? cfg.policy ?? savedPolicy ?? "epsilon-greedy");
  if (savedPolicy && policy !== savedPolicy && !ctx.out.json) {
    ctx.out.warn(
      `rl train: the saved bandit was trained with ${savedPolicy}; continuing its values with ${policy} ` +
        `(--policy ${savedPolicy} keeps it, --fresh starts over)`,
    );
  }
  const epsilon = numberOption(cmd, "epsilon", values.epsilon, cfg.epsilon ?? 0.1);
  const ucbC = numberOption(cmd, "ucb-c", values["ucb-c"], cfg.ucb_c ?? 2.0);
  const bar = ctx.out.json ? null : ctx.out.progress(steps, "rl train");
  const warned = new Set<string>();
  let run;
  try {
    run = await trainToolBanditRun({
      rlDir: workspacePaths(ws).rlDir,
      env: envOptions,
      steps,
      policy,
      epsilon,
      ucbC,
      seed,
      fresh: values.fresh,
      signal: ctx.signal,
      onStep: (s) => {
        bar?.tick(1, `${s.action} ${s.reward.toFixed(2)}`);
        if (s.info.error && !warned.has(s.action)) {
          warned.add(s.action);
          ctx.out.warn(`${s.action} failed (scored as a bad outcome): ${s.info.error}`);
        }
      },
    });
  } finally {
    bar?.done();
  }
  const { summary } = run;
  if (ctx.out.json) ctx.out.printJson(summary);
  else {
    ctx.out.print(
      `rl train: ${summary.steps} steps with ${policy}, average reward ${run.avgReward?.toFixed(3) ?? "-"} ` +
        `(${run.wallS.toFixed(1)} s); state in ${summary.state_file}`,
    );
    ctx.out.table(
      ["tool", "value", "count"],
      summary.ranking.map((r) => [r.tool, Number(r.value.toFixed(4)), r.count]),
    );
  }
  return { ok: true, data: summary };
}

/** The normalised policy of the saved tool bandit (`toolchain_bandit.json`), if there is a readable one. */
async function savedBanditPolicy(rlDir: string): Promise<string | undefined> {
  try {
    const saved = JSON.parse(await Deno.readTextFile(`${rlDir}/toolchain_bandit.json`));
    return typeof saved?.policy === "string" ? normalizePolicy(saved.policy) : undefined;
  } catch {
    return undefined;
  }
}

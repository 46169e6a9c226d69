/**
 * `rl sweep` (loaded with `cli/commands/rl_impl.ts`): parses the flags, checks the disk guard and the
 * space file, runs `rl/`'s `sweepToolBandit` printing each trial, and prints the trials and the best one.
 *
 * @module
 */

import { resolve } from "node:path";
import { guard, UsageError, workspacePaths } from "../../core/mod.ts";
import {
  DEFAULT_SWEEP_SPACE,
  loadRlConfig,
  loadSweepSpace,
  normalizePolicy,
  type SearchSpace,
  sweepToolBandit,
  toolEnvOptionsFrom,
} from "../../rl/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { TOOL_ENV_FLAGS, toolEnvFlags } from "./rl_flags.ts";

/** `rl sweep`. */
export async function runSweepCommand(args: string[], ctx: CommandContext): Promise<CommandResult> {
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
  const method = (values.method ?? "pareto") as "pareto" | "random";
  if (method !== "pareto" && method !== "random") {
    throw new UsageError(`rl sweep: --method must be pareto or random, got '${values.method}'`);
  }
  const iterations = intOption(cmd, "iterations", values.iterations, 8);
  await guard(ws, { operation: "rl sweep" });
  const trainerSteps = values["trainer-steps"] === undefined
    ? undefined
    : intOption(cmd, "trainer-steps", values["trainer-steps"], 0);
  // A bad space file is refused before anything starts.
  let space: SearchSpace = values.space
    ? await loadSweepSpace(resolve(ws, values.space), values.space)
    : DEFAULT_SWEEP_SPACE;
  // --trainer-steps fixes every trial's steps: sweeping (and reporting, and saving) trainer.steps would
  // describe runs that never happened.
  if (trainerSteps !== undefined && "trainer.steps" in space) {
    space = Object.fromEntries(Object.entries(space).filter(([k]) => k !== "trainer.steps"));
  }
  const cfg = await loadRlConfig(ws);
  const policy = normalizePolicy(values.policy ?? cfg.policy ?? "epsilon-greedy");
  const seed = values.seed === undefined ? undefined : intOption(cmd, "seed", values.seed, 0);
  const baseEnv = toolEnvOptionsFrom(ws, cfg, toolEnvFlags(cmd, values));
  if (!ctx.out.json) {
    ctx.out.info(`rl sweep: ${iterations} trials (${method}) of the ${policy} bandit on the tool env`);
  }
  const { state, stateFile, bestFile } = await sweepToolBandit({
    rlDir: workspacePaths(ws).rlDir,
    method,
    iterations,
    space,
    policy,
    seed,
    fresh: values.fresh,
    trainerSteps,
    baseEnv,
    signal: ctx.signal,
    onTrial: (trial, best) => {
      if (!ctx.out.json) {
        ctx.out.info(
          `  trial ${trial.iteration}: reward ${trial.metric.toFixed(4)} in ${trial.cost.toFixed(1)} s` +
            (best === trial ? "  (best so far)" : ""),
        );
      }
    },
  });
  const best = state.best;
  const out = { method, trials: state.history.length, best, state_file: stateFile, best_file: bestFile };
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
        `best: trial ${best.iteration} reward ${best.metric.toFixed(4)}; saved to ${out.best_file}. ` +
          `'dspy-code rl train --use-best' trains with it; a plain 'rl train' does not.`,
      );
    }
  }
  return { ok: true, data: out };
}

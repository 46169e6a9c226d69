/**
 * `rl eval` and `rl status` (loaded with `cli/commands/rl_impl.ts`): read back what training left —
 * evaluate a checkpoint next to a random policy (`evaluateCheckpoint`), list the runs, the tool bandit and
 * the best sweep config (`readRlStatus`) — and print them.
 *
 * @module
 */

import { resolve } from "node:path";
import { UsageError, workspacePaths } from "../../core/mod.ts";
import { evaluateCheckpoint, readRlStatus } from "../../rl/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";

/** `rl eval --checkpoint PATH`. */
export async function runEval(args: string[], ctx: CommandContext): Promise<CommandResult> {
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
  const episodes = intOption(cmd, "episodes", values.episodes, 10) || 1;
  const seed = intOption(cmd, "seed", values.seed, 12345);
  const { report: out, policy, random } = await evaluateCheckpoint(
    resolve(ctx.workspace, values.checkpoint),
    {
      episodes,
      sample: values.sample,
      seed,
    },
  );
  if (ctx.out.json) ctx.out.printJson(out);
  else {
    ctx.out.panel(`rl eval · ${out.env}`, [
      ["checkpoint", out.checkpoint],
      ["trained steps", String(out.trained_steps)],
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
}

/** `rl status [--limit N]`. */
export async function runStatus(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("rl", args, { limit: { type: "string" }, json: { type: "boolean" } }, {
    max: 0,
  });
  const limit = intOption("rl", "limit", values.limit, 10);
  const out = await readRlStatus(workspacePaths(ctx.workspace).rlDir, { limit });
  if (ctx.out.json) {
    ctx.out.printJson(out);
    return { ok: true, data: out };
  }
  const { runs, bandit } = out;
  if (runs.length === 0) ctx.out.print(`no RL runs yet in ${out.rl_dir} (try 'rl ppo --env cartpole')`);
  else {
    ctx.out.table(
      ["run", "kind", "env", "steps", "return/reward", "solved at", "steps/s"],
      runs.map((r) =>
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
  if (out.best_config) ctx.out.print(`best sweep config: ${JSON.stringify(out.best_config)}`);
  return { ok: true, data: out };
}

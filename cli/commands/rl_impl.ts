/**
 * `rl train|ppo|eval|sweep|status` (loaded lazily by `cli/commands/rl.ts`): picks the subcommand. The
 * subcommands parse their flags, call `rl/mod.ts` (which trains, records the runs and emits the `rl.*`
 * events) and print: `rl_train_impl.ts` (train, ppo), `rl_sweep_impl.ts` (sweep) and `rl_inspect_impl.ts`
 * (eval, status).
 *
 * @module
 */

import { UsageError } from "../../core/mod.ts";
import type { CommandContext, CommandResult } from "../command.ts";
import { runEval, runStatus } from "./rl_inspect_impl.ts";
import { runSweepCommand } from "./rl_sweep_impl.ts";
import { runPpo, runTrain } from "./rl_train_impl.ts";

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

/**
 * Command specs for the rl subsystem: one `rl` command with the subcommands train, ppo, eval, sweep and
 * status. Keep this file light: the implementation loads inside `run` from `cli/commands/rl_impl.ts`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { lazyImport } from "../lazy.ts";

const impl = () => lazyImport<typeof import("./rl_impl.ts")>(new URL("./rl_impl.ts", import.meta.url));

/** The rl commands, registered in `cli/registry.ts`. */
export const rlCommands: CommandSpec[] = [
  {
    name: "rl",
    group: "rl",
    summary: "Reinforcement learning: bandit tool training, PPO (CartPole, bandit, tool env), eval, sweeps",
    usage: "rl train|ppo|eval|sweep|status [options]",
    examples: [
      "rl ppo --env cartpole --steps 150000 --seed 1",
      "rl ppo --env cartpole --steps 150000 --seed 1 --json",
      "rl ppo --env bandit --steps 4000 --bandit-means 0.1,0.5,0.9",
      "rl train --steps 50 --policy ucb --test-cmd 'sh run_tests.sh' --lint-cmd 'sh lint.sh'",
      "rl eval --checkpoint .dspy/rl/runs/<id>/checkpoints/best.json --episodes 20",
      "rl sweep --method pareto --iterations 6 --trainer-steps 30",
      "rl train --use-best --steps 50",
      "rl status",
    ].join("\n").split("\n"),
    details: [
      "rl ppo     PPO actor-critic (MLP, tanh, Adam) trained off the main thread. Writes",
      "           .dspy/rl/runs/<id>/{metrics.jsonl,summary.json,checkpoints/}.",
      "  --env cartpole|bandit|tool   environment (default cartpole)",
      "  --steps N            total env steps (default 150000 for cartpole, 10000 otherwise)",
      "  --n-envs K           parallel envs (default 8; tool env: 1)",
      "  --env-workers W      step the envs in W Deno Workers (default 0 = on the learner's thread)",
      "  --lr X  --entropy X  --replay-capacity N  --replay-batch N  --grad-clip X",
      "  --epochs N  --minibatches N  --rollout N  --gamma X  --gae-lambda X  --clip X  --vf-coef X",
      "  --hidden 64,64       hidden widths  --no-anneal  keep the learning rate constant",
      "  --checkpoint-dir D  --checkpoint-interval N (updates)  --early-stop N (updates)",
      "  --seed S  --resume PATH (checkpoint dir or .json)  --solve R (default 475 on cartpole)",
      "  --stop-when-solved   --bandit-means a,b,c  (bandit env arm means)",
      "  --json               print the result as one JSON object (env_steps, wall_s, steps_per_s,",
      "                       mean_return_last100, solved_at_step, ...)",
      "rl train   Bandit (epsilon-greedy | ucb1 | thompson) over the coding-tool env; state persists in",
      "           .dspy/rl/toolchain_bandit.json (--fresh starts over). --neural trains PPO on the tool env.",
      "  --steps N (default 200)  --policy P  --epsilon X  --ucb-c X  --seed S",
      "  --use-best           train with the last sweep's best config (.dspy/rl/best.json); never applied otherwise",
      "rl eval    Run a checkpoint's policy greedily (or --sample) for --episodes N, next to a random policy.",
      "rl sweep   Hyperparameter sweep of the bandit trainer on the tool env: --method pareto|random,",
      "           --iterations N, --trainer-steps N (every trial runs N steps; trainer.steps is then not swept),",
      "           --space FILE.json, --fresh. Persists .dspy/rl/sweep_state.json and .dspy/rl/best.json,",
      "           which 'rl train --use-best' applies (a plain 'rl train' does not).",
      "rl status  Recent runs, the tool bandit, the best sweep config.",
      "Tool env options (train, sweep, ppo --env tool; defaults from .dspy_rl.json):",
      "  --actions a,b,...  subset/order of run_tests,lint,build,patch,shell_ls,shell_pwd,shell_cat,shell_cd,shell_run",
      "  --test-cmd C  --lint-cmd C  --build-cmd C   commands instead of the detected toolchain",
      "  --patch-file F  --shell-cmd C  --cat-path P  --cd-path P  --timeout-sec N  --shell-timeout-sec N",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runRl(args, ctx),
  },
];

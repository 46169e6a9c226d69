/**
 * Command specs for experiments: `experiments ...` and `datasets preview`. Keep this file light: the
 * implementation loads inside `run` from `cli/commands/experiments_impl.ts`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { lazyImport } from "../lazy.ts";

const impl = () =>
  lazyImport<typeof import("./experiments_impl.ts")>(new URL("./experiments_impl.ts", import.meta.url));

/** The experiments commands, registered in `cli/registry.ts`. */
export const experimentsCommands: CommandSpec[] = [
  {
    name: "experiments",
    aliases: ["exp"],
    group: "experiments",
    summary: "Run, follow, compare and schedule embedding and RL experiments (one at a time, queued)",
    usage:
      "experiments run embed|rl ... | sweep ... | status ID [--follow] | list | history | compare ID ID... | " +
      "cancel ID | schedule ...",
    examples: [
      "experiments run embed --dataset data/q.jsonl --model-path models/all-MiniLM-L6-v2 --batch-size 64",
      "experiments run embed --dataset data/q.jsonl --backend infermesh --infermesh-url http://127.0.0.1:19000",
      "experiments run rl --env cartpole --steps 20000",
      "experiments sweep --dataset data/q.jsonl --backend hash --models hash-128,hash-256 --batch-sizes 16,64",
      "experiments compare 1a2b3c4d5e6f0 1a2b3c4d5e6f1",
      `experiments schedule add nightly --cron "0 3 * * *" -- run embed --dataset data/q.jsonl`,
    ],
    details: [
      "experiments run embed --dataset FILE [--backend local|infermesh|hash] [--model M] [--model-path DIR]",
      "          [--infermesh-url U] [--batch-size 64] [--max-count N] [--normalize] [--store] [--detach]",
      '    Embeds a dataset (JSONL {"text"} a line, or a text a line) and measures texts/s, batch p50/p95,',
      "    failures and dims; --store writes the vectors to the vector store. Paths must be inside the",
      "    workspace. The run is followed with a progress bar; Ctrl-C cancels it (--detach: just queue it).",
      "experiments run rl [--env cartpole|bandit] [--steps N] [--seed N] [--n-envs N] [--lr X] [--entropy-coef X]",
      "experiments sweep --dataset FILE --models a,b --batch-sizes 16,64 [embed flags]",
      "    One embed run per model × batch size (models are folders with --backend local).",
      "experiments status ID [--follow]   the record (progress, metrics); --follow waits with a progress bar",
      "experiments list [--limit N]       newest first;   experiments history [--limit N] [--json]",
      "experiments compare ID ID...       metrics side by side;   experiments cancel ID",
      "experiments logs ID                the run's log (.dspy_reports/experiments/ID.log)",
      "experiments schedule add NAME --cron EXPR [--replace] -- run embed|rl ... | sweep ...",
      "experiments schedule list | remove NAME | pause NAME | resume NAME | run NAME",
      "    Cron EXPR has 5 fields in UTC (MIN HOUR DOM MON DOW). The process running 'up' or",
      "    'quickstart' fires the schedules (and picks up changes within seconds); a firing while the",
      "    schedule's previous run is going is skipped and recorded. 'schedule run' fires one now.",
      "Runs go one at a time across every process of the workspace; the rest wait in order.",
      "See docs/experiments.md.",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runExperiments(args, ctx),
  },
  {
    name: "datasets",
    group: "experiments",
    summary: "Preview a dataset's first texts (the loader embed experiments use)",
    usage: "datasets preview PATH [--n 5]",
    examples: ["datasets preview data/q.jsonl", "datasets preview notes.txt --n 10 --json"],
    run: async (args, ctx) => (await impl()).runDatasets(args, ctx),
  },
];

/**
 * Command specs for the agent subsystem, and its hooks: natural-language routing, tool scoring, learning
 * and the session panel's LLM row. Keep this file light: each command family's implementation (and the
 * scoring table) loads on first use by URL (see `cli/lazy.ts`): `context_impl.ts` (plan, ctx, codectx),
 * `edit_impl.ts`, `patch_impl.ts`, `git_impl.ts`, `toolchain_impl.ts` (run-tests, lint, build),
 * `chat_impl.ts` (chat, routing), `llm_impl.ts` (llm, ollama, model, panel row),
 * `agent/learning/scoring.ts` (tool scores) and `agent/learning/tool_learning.ts` (the tool-end hook).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import {
  addPanelRow,
  addToolEndListener,
  addToolStartHook,
  setRouteHandler,
  setToolScorer,
} from "../hooks.ts";
import { lazyImport } from "../lazy.ts";

const contextImpl = () =>
  lazyImport<typeof import("./context_impl.ts")>(new URL("./context_impl.ts", import.meta.url));
const editImpl = () =>
  lazyImport<typeof import("./edit_impl.ts")>(new URL("./edit_impl.ts", import.meta.url));
const patchImpl = () =>
  lazyImport<typeof import("./patch_impl.ts")>(new URL("./patch_impl.ts", import.meta.url));
const gitImpl = () => lazyImport<typeof import("./git_impl.ts")>(new URL("./git_impl.ts", import.meta.url));
const toolchainImpl = () =>
  lazyImport<typeof import("./toolchain_impl.ts")>(new URL("./toolchain_impl.ts", import.meta.url));
const chatImpl = () =>
  lazyImport<typeof import("./chat_impl.ts")>(new URL("./chat_impl.ts", import.meta.url));
const llmImpl = () => lazyImport<typeof import("./llm_impl.ts")>(new URL("./llm_impl.ts", import.meta.url));

const LLM_NOTE =
  "Needs an LLM (Ollama or an OpenAI-compatible API); 'llm' shows the status and how to configure one.";

/** The agent commands, registered in `cli/registry.ts`. */
export const agentCommands: CommandSpec[] = [
  {
    name: "plan",
    group: "agent",
    summary: "Plan a task: context from logs and code search → steps, commands, assumptions, risks",
    usage: "plan TASK [--json]",
    examples: [`plan "fix failing tests"`, `plan "add retry to the HTTP client" --json`],
    details: LLM_NOTE + " Without one it shows the context it found and says what is missing.",
    run: async (args, ctx) => (await contextImpl()).runPlan(args, ctx),
  },
  {
    name: "ctx",
    aliases: ["context"],
    group: "agent",
    summary: "Key events from the workspace logs (errors, warnings, tracebacks) + an LLM summary",
    usage: "ctx [--logs PATH] [--task TEXT] [--no-llm] [--json]",
    examples: ["ctx", "ctx --no-llm --json"],
    details:
      "Reads logs/**/*.{log,out,err,txt} and *.log in the workspace (MAX_LOG_BYTES caps each file).\n" +
      "  --logs PATH  a log file or folder (default logs/)\n" +
      "  --task TEXT  what the summary should focus on\n  --no-llm     skip the LLM summary",
    run: async (args, ctx) => (await contextImpl()).runCtx(args, ctx),
  },
  {
    name: "codectx",
    group: "agent",
    summary: "Code snapshot + summary, entry points and risk areas of a file or folder",
    usage: "codectx [PATH] [--ask TEXT] [--snapshot] [--no-llm] [--json]",
    examples: ["codectx", "codectx src/server.ts --ask 'how are requests authenticated?'"],
    details: "  --ask TEXT   what to focus the summary on\n  --snapshot   also print the snapshot text\n" +
      "  --no-llm     offline analysis only (files, languages, entry points, risk areas)",
    run: async (args, ctx) => (await contextImpl()).runCodectx(args, ctx),
  },
  {
    name: "edit",
    group: "agent",
    summary: "Propose a verified patch for a task; apply it only with --apply",
    usage: "edit TASK [--files F,...] [--apply] [--max-files 4] [--max-lines 200] [--rounds 2] [--json]",
    examples: [
      `edit "rename parse_args to parse_cli in src/cli.py" --files src/cli.py`,
      `edit "fix the typo in README" --apply`,
    ],
    details: [
      "FileLocator → CodeEdit (critic/reviser rounds) → local checks (unified diff headers, caps, paths inside",
      "the workspace, applies cleanly in memory) → PatchVerifier → coloured diff. With --apply and both checks",
      "passing the patch is written all-or-nothing with a backup (undo: patch --revert ID); in --approval manual",
      "it asks first. Without --apply the diff is saved under .dspy_patches/proposed/ for 'patch FILE'.",
      "  -y, --apply       apply when the checks pass",
      "  --files F1,F2     files to change (skips the FileLocator)",
      "  --max-files N     cap on files (default 4);  --max-lines N  cap on changed lines (default 200)",
      "  --rounds N        critic/reviser rounds when local checks fail (default 2)",
      LLM_NOTE,
    ].join("\n"),
    run: async (args, ctx) => (await editImpl()).runEdit(args, ctx),
  },
  {
    name: "patch",
    group: "agent",
    summary: "Apply a unified diff all-or-nothing (with backup), revert one, or list them",
    usage:
      "patch FILE [--dry-run] [--max-files N] [--max-lines N] | patch --revert [ID] [--force] | patch --list",
    examples: ["patch fix.diff", "patch fix.diff --dry-run", "patch --list", "patch --revert"],
    details: [
      "Refuses paths outside the workspace (.., absolute, symlinks), .git/ and .dspy* state, binary patches,",
      "binary or oversized files (> 1 MiB), malformed hunks and hunks that do not match: nothing is written then.",
      "Every attempt is recorded in .dspy_patches/history.jsonl and emitted as a patch.apply event.",
      "  --revert [ID]  restore the files of patch ID (default: the latest) from its backup",
      "  --force        revert even if the files changed since",
      "  FILE may be '-' for stdin.",
    ].join("\n"),
    run: async (args, ctx) => (await patchImpl()).runPatch(args, ctx),
  },
  {
    name: "gstatus",
    group: "git",
    summary: "git status of the workspace",
    usage: "gstatus [--json]",
    examples: ["gstatus"],
    run: async (args, ctx) => (await gitImpl()).runGstatus(args, ctx),
  },
  {
    name: "glog",
    group: "git",
    summary: "Recent commits, newest first, with the files and lines each changed (of a path too)",
    usage: "glog [PATH] [--n 10] [--json]",
    examples: ["glog", "glog src/app.ts --n 5"],
    run: async (args, ctx) => (await gitImpl()).runGlog(args, ctx),
  },
  {
    name: "gdiff",
    group: "git",
    summary: "The uncommitted changes as a coloured unified diff (--staged: what gcommit would commit)",
    usage: "gdiff [PATH] [--staged] [--json]",
    examples: ["gdiff", "gdiff src/app.ts", "gdiff --staged"],
    run: async (args, ctx) => (await gitImpl()).runGdiff(args, ctx),
  },
  {
    name: "gadd",
    group: "git",
    summary: "Stage paths (git add)",
    usage: "gadd PATHS...",
    examples: ["gadd src/app.ts tests/app_test.ts"],
    run: async (args, ctx) => (await gitImpl()).runGadd(args, ctx),
  },
  {
    name: "gcommit",
    group: "git",
    summary: "Commit the staged changes",
    usage: `gcommit -m "MESSAGE"`,
    examples: [`gcommit -m "fix: handle empty input"`],
    run: async (args, ctx) => (await gitImpl()).runGcommit(args, ctx),
  },
  {
    name: "run-tests",
    aliases: ["test"],
    group: "agent",
    summary:
      "Run the project's tests (deno, npm/pnpm/yarn, pytest, cargo, go, make) and count passes/failures",
    usage: "run-tests [--timeout SECONDS] [--quiet] [-- EXTRA ARGS]",
    examples: ["run-tests", "run-tests --timeout 120 --json"],
    details:
      "Detects the toolchain from deno.json, package.json, Cargo.toml, go.mod, pyproject.toml/tests, Makefile.\n" +
      "  --timeout S  kill the run after S seconds (default 600; exit code 124)\n  -q, --quiet  do not stream the output\n" +
      "Exit code: 0 passed, 1 failed, 124 timed out, 130 interrupted.",
    run: async (args, ctx) => (await toolchainImpl()).runToolchainCommand("test", "run-tests", args, ctx),
  },
  {
    name: "lint",
    group: "agent",
    summary: "Run the project's linter and count issues",
    usage: "lint [--timeout SECONDS] [--quiet]",
    examples: ["lint"],
    run: async (args, ctx) => (await toolchainImpl()).runToolchainCommand("lint", "lint", args, ctx),
  },
  {
    name: "build",
    group: "agent",
    summary: "Build or type-check the project",
    usage: "build [--timeout SECONDS] [--quiet]",
    examples: ["build"],
    run: async (args, ctx) => (await toolchainImpl()).runToolchainCommand("build", "build", args, ctx),
  },
  {
    name: "chat",
    group: "agent",
    summary: "One-shot multi-step tool loop for a request (LLM orchestrator, else offline rules + bandit)",
    usage: "chat TASK [--steps 4]",
    examples: [`chat "where is parse_config defined"`, `chat "why do the tests fail" --steps 3`],
    details:
      "Each step is shown; it stops at --steps, on a good result or a repeated action. Edits found this\n" +
      "way are shown, never applied (use edit --apply or patch).",
    run: async (args, ctx) => (await chatImpl()).runChat(args, ctx),
  },
  {
    name: "llm",
    group: "agent",
    summary: "Show which LLM is configured and whether it answers",
    usage: "llm [--json]",
    examples: ["llm", "--no-ollama --model gpt-4o-mini llm"],
    details:
      "  Exit code 0 when the LLM answers, 1 when none does (the reason and how to set one up are printed).",
    recordEvents: false,
    run: async (args, ctx) => (await llmImpl()).runLlm(args, ctx),
  },
  {
    name: "ollama",
    group: "agent",
    summary: "Use Ollama (on) or the OpenAI-compatible API (off) for later LLM calls",
    usage: "ollama on|off",
    examples: ["ollama off"],
    scope: "session",
    recordEvents: false,
    run: async (args, ctx) => (await llmImpl()).runOllama(args, ctx),
  },
  {
    name: "model",
    group: "agent",
    summary: "Show or set the model for later LLM calls",
    usage: "model [NAME]",
    examples: ["model qwen3:4b"],
    scope: "session",
    recordEvents: false,
    run: async (args, ctx) => (await llmImpl()).runModel(args, ctx),
  },
];

setRouteHandler(async (line, ctx) => (await chatImpl()).routeLine(line, ctx));
const scoring = () =>
  lazyImport<typeof import("../../agent/learning/scoring.ts")>(
    new URL("../../agent/learning/scoring.ts", import.meta.url),
  );
setToolScorer(async (o) =>
  (await scoring()).scoreOutcome({ tool: o.tool, args: o.args, ok: o.result.ok, data: o.result.data })?.score
);
// The tool-end hook runs after every recorded command (grep included), so it loads only the learning module
// (bandit file, events line, session summary) rather than the whole agent behind chat_impl.ts: that cost
// 140-175 ms per process.
const toolLearning = () =>
  lazyImport<typeof import("../../agent/learning/tool_learning.ts")>(
    new URL("../../agent/learning/tool_learning.ts", import.meta.url),
  );
addToolEndListener(async (o, ctx) => {
  if (o.args.includes("--help")) return;
  await (await toolLearning()).learnFromTool(ctx.workspace, ctx.session.id, o.tool, o.score);
});
// Both modules load while the command runs (grep waits on its workers meanwhile), not after it: that was
// 10-60 ms at the end of every command, more on a loaded machine.
addToolStartHook(() => Promise.all([scoring(), toolLearning()]));
addPanelRow(async (ctx) => (await llmImpl()).llmPanelRow(ctx));

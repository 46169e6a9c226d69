/**
 * Help text: the command list for `dspy-code --help` and the `help` session command, and per-command help
 * (`dspy-code CMD --help`, `help CMD`). Built from the command table only, so it loads nothing heavy.
 *
 * @module
 */

import { VERSION } from "../core/version.ts";
import type { CommandGroup, CommandSpec } from "./command.ts";
import type { Colors } from "./output.ts";
import { COMMANDS } from "./registry.ts";

const GROUP_TITLES: Record<CommandGroup, string> = {
  session: "Session and workspace",
  search: "Code search",
  embeddings: "Embeddings",
  agent: "Agent (LLM)",
  git: "Git",
  events: "Events and stats",
  bus: "Streaming bus",
  rl: "Reinforcement learning",
  experiments: "Experiments and schedules",
  server: "Status server",
  system: "System",
};

/** The top-level help text. */
export function mainHelp(c: Colors, interactive = false): string {
  const lines: string[] = [];
  if (!interactive) {
    lines.push(
      `${c.bold("dspy-code")} ${VERSION} — a local, CLI-first coding agent`,
      "",
      `${c.bold("Usage:")} dspy-code [GLOBAL FLAGS] [COMMAND] [ARGS]`,
      "       dspy-code --workspace DIR            (interactive session)",
      "",
      c.bold("Global flags:"),
      "  --workspace DIR      project folder (default: current directory; env DSPY_WORKSPACE)",
      "  --model NAME         LLM model (default qwen3:1.7b; env MODEL_NAME / OLLAMA_MODEL)",
      "  --ollama, --no-ollama  use Ollama or an OpenAI-compatible API (env USE_OLLAMA)",
      "  --base-url URL       LLM base URL (env OPENAI_BASE_URL; Ollama: OLLAMA_HOST)",
      "  --api-key KEY        API key for an OpenAI-compatible endpoint (env OPENAI_API_KEY)",
      "  --approval auto|manual  confirm edits before applying (env TOOL_APPROVAL)",
      "  --plain              no colour or boxes (automatic without a terminal or with CI set)",
      "  --json               structured output where a command has it",
      "  --version, --help",
      "",
    );
  }
  const groups = new Map<CommandGroup, CommandSpec[]>();
  for (const spec of COMMANDS) {
    if (interactive ? spec.scope === "cli" : spec.scope === "session") continue;
    const list = groups.get(spec.group) ?? [];
    list.push(spec);
    groups.set(spec.group, list);
  }
  const width = Math.max(...COMMANDS.map((s) => s.name.length)) + 2;
  for (const [group, specs] of groups) {
    lines.push(c.bold(GROUP_TITLES[group] + ":"));
    for (const spec of specs) lines.push(`  ${c.cyan(spec.name.padEnd(width))}${spec.summary}`);
    lines.push("");
  }
  lines.push(
    interactive
      ? "Type 'help COMMAND' for details. Other lines go to the agent's router. Chain with '&&'."
      : "Run 'dspy-code COMMAND --help' for a command's options and examples.",
  );
  return lines.join("\n");
}

/** Help for one command. */
export function commandHelp(spec: CommandSpec, c: Colors): string {
  const lines = [`${c.bold(spec.name)} — ${spec.summary}`, "", `${c.bold("Usage:")} dspy-code ${spec.usage}`];
  if (spec.aliases?.length) lines.push(`${c.bold("Aliases:")} ${spec.aliases.join(", ")}`);
  if (spec.details) lines.push("", spec.details.trimEnd());
  lines.push("", c.bold("Examples:"), ...spec.examples.map((e) => `  dspy-code ${e}`));
  return lines.join("\n");
}

/**
 * The command table's types. One {@link CommandSpec} per command serves both the interactive session and
 * the `dspy-code COMMAND` subcommand, so every command has exactly one implementation. Specs are cheap to
 * import: a command loads its heavy modules inside `run`, which keeps `dspy-code --help` fast.
 *
 * @module
 */

import type { ParseArgsConfig } from "node:util";
import { type ArgOption, ArgsError, parseArgv } from "../core/args.ts";
import { UsageError } from "../core/errors.ts";
import type { Output } from "./output.ts";
import { suggest } from "./tokenize.ts";

/** Options every command sees (global flags merged with environment variables). */
export interface GlobalOptions {
  /** LLM model name (`--model`, `MODEL_NAME`/`OLLAMA_MODEL`, default `qwen3:1.7b`). */
  model: string;
  /** Use Ollama (`--ollama/--no-ollama`, `USE_OLLAMA`, default true). */
  ollama: boolean;
  /** LLM base URL (`--base-url`, `OPENAI_BASE_URL`). */
  baseUrl?: string;
  /** API key for an OpenAI-compatible endpoint (`--api-key`, `OPENAI_API_KEY`). */
  apiKey?: string;
  /** Whether edits need confirmation (`--approval`, `TOOL_APPROVAL`, default auto). */
  approval: "auto" | "manual";
  /** No colour or boxes. */
  plain: boolean;
  /** Structured output where a command has it. */
  json: boolean;
}

/** Per-session state shared by the commands of one session (or one subcommand run). */
export interface SessionInfo {
  /** `cli:<epoch ms>` for a subcommand, `session:<uuid>` for an interactive session. */
  id: string;
  /** True in the interactive session. */
  interactive: boolean;
  /** How many commands this session has run (the `step` of tool events). */
  step: number;
  /** Free-form state commands keep between lines (e.g. the last extract), keyed by owner. */
  state: Map<string, unknown>;
}

/** Key in {@link SessionInfo.state} that `exit`/`quit` set to end the session loop. */
export const EXIT_REQUESTED = "session.exitRequested";

/** Everything a command gets when it runs. */
export interface CommandContext {
  /** Absolute workspace root. The session's `cd` changes it for later lines. */
  workspace: string;
  /** Global options; the session's `model`/`ollama` commands change them for later lines. */
  options: GlobalOptions;
  /** Where to write. */
  out: Output;
  /** The session this command runs in. */
  session: SessionInfo;
  /** Asks a yes/no question on the terminal or the session's input; false when nobody can answer. */
  confirm(question: string): Promise<boolean>;
  /** Aborted on Ctrl-C (long-running commands stop cleanly). */
  signal: AbortSignal;
  /** Changes the workspace for the rest of the session (the `cd` command). */
  setWorkspace(path: string): void;
  /** Runs another command line in this context (used by routing and `chat`). */
  runLine(line: string): Promise<CommandResult>;
}

/** What a command reports back; feeds exit codes and `tool.end` events. */
export interface CommandResult {
  /** Success (exit code 0 unless `code` says otherwise). */
  ok: boolean;
  /** Process exit code (default 0 when ok, 1 otherwise). */
  code?: number;
  /** Tool score for `tool.end` (default 1 when ok, 0 otherwise). */
  score?: number;
  /** Error message for `tool.end` when not ok. */
  error?: string;
  /** Structured result for callers that run commands programmatically (routing, chat). */
  data?: unknown;
}

/** Groups for `--help`. */
export type CommandGroup =
  | "session"
  | "search"
  | "agent"
  | "git"
  | "events"
  | "bus"
  | "rl"
  | "embeddings"
  | "experiments"
  | "server"
  | "system";

/** A command in the shared table. */
export interface CommandSpec {
  /** Primary name as typed. */
  name: string;
  /** Other names. */
  aliases?: string[];
  /** Help section. */
  group: CommandGroup;
  /** One line for the command list. */
  summary: string;
  /** Synopsis, e.g. `grep PATTERN [--fixed] [--glob G]...`. */
  usage: string;
  /** At least one example invocation (without the `dspy-code` prefix). */
  examples: string[];
  /** More help text (options explained). */
  details?: string;
  /** Emit `tool.start`/`tool.end` for this command (default true). */
  recordEvents?: boolean;
  /** Where it can be used (default both). */
  scope?: "both" | "session" | "cli";
  /** Runs the command. Returning nothing means success. */
  run(args: string[], ctx: CommandContext): Promise<CommandResult | void>;
}

// Only for the type of a parse's result below (no value is ever read): the parser itself is core/args.ts,
// which behaves as node:util's does without booting Node compatibility.
declare const typedParseArgs: typeof import("node:util").parseArgs;
/** The result type of parseArgs for a command's options. */
type ParsedResults<T extends CommandOptionsConfig> = ReturnType<
  typeof typedParseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/** Options accepted by {@link parseCommandArgs}. */
export type CommandOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's arguments (`node:util` parseArgs' rules, see core/args.ts) and turns its errors into a
 * {@link UsageError} that names the command's help.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandArgs("grep", args, {
 *   fixed: { type: "boolean" },
 *   glob: { type: "string", multiple: true },
 * }, { min: 1, max: 1, names: "PATTERN" });
 * ```
 */
export function parseCommandArgs<T extends CommandOptionsConfig>(
  command: string,
  args: string[],
  options: T,
  positionals: { min?: number; max?: number; names?: string } = {},
): ParsedResults<T> {
  let parsed;
  try {
    parsed = parseArgv(args, options as Record<string, ArgOption>) as unknown as ParsedResults<T>;
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    let msg = err.message.split("\n")[0].replace(/\.$/, "");
    // `--steps -5` reads as a flag missing its value; say how to pass a value starting with '-'.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(msg);
    if (ambiguous) msg += ` (write ${ambiguous[1]}=VALUE for a value that starts with '-')`;
    // parseArgs' "Unknown option '--x'. To specify a positional argument starting with a '-', place it at the
    // end of the command after '--', as in '-- "--x"" buries a typo: name the option and the closest ones.
    const unknown = /^Unknown option '([^']+)'/.exec(msg);
    if (unknown) {
      const known = Object.entries(options).flatMap((
        [name, o],
      ) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
      const hints = suggest(unknown[1], known);
      msg = `unknown option '${unknown[1]}'` +
        (hints.length
          ? ` (did you mean ${hints.map((h) => `'${h}'`).join(" or ")}?)`
          : ` (a positional argument that starts with '-' goes after '--')`);
    }
    throw new UsageError(`${command}: ${msg}. See 'dspy-code ${command} --help'.`);
  }
  const count = parsed.positionals.length;
  if (positionals.min !== undefined && count < positionals.min) {
    throw new UsageError(
      `${command}: missing ${positionals.names ?? "argument"}. See 'dspy-code ${command} --help'.`,
    );
  }
  if (positionals.max !== undefined && count > positionals.max) {
    throw new UsageError(
      `${command}: too many arguments (${parsed.positionals.slice(positionals.max).join(" ")}). ` +
        `See 'dspy-code ${command} --help'.`,
    );
  }
  return parsed;
}

/** Parses an integer option of at least `min` (default 0), with a usage error naming the flag. */
export function intOption(
  command: string,
  flag: string,
  value: string | undefined,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${command}: --${flag} takes a whole number ≥ ${min}, got '${value}'`);
  }
  return n;
}

/** Parses a number option, with a usage error naming the flag. */
export function numberOption(
  command: string,
  flag: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${command}: --${flag} takes a number, got '${value}'`);
  return n;
}

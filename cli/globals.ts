/**
 * Global flags and their environment variables. Flags win over environment variables, which win over the
 * defaults. Global flags come before the command name; `--workspace`, `--plain` and `--json` are also accepted
 * after it, so `dspy-code grep foo --json` works as users expect.
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";
import type { GlobalOptions } from "./command.ts";
import { shouldBePlain } from "./output.ts";

/** The default LLM model. */
export const DEFAULT_MODEL = "qwen3:1.7b";

/** Result of {@link parseGlobalArgs}. */
export interface ParsedCommandLine {
  /** Workspace as given (not yet resolved), or undefined for the default. */
  workspace?: string;
  /** Global options after flag/env/default precedence. */
  options: GlobalOptions;
  /** `--help`/`-h` before any command. */
  help: boolean;
  /** `--version`/`-V`. */
  version: boolean;
  /** Command name, if any. */
  command?: string;
  /** The command's own arguments (global flags removed). */
  args: string[];
}

const VALUE_FLAGS = new Set(["--workspace", "--model", "--base-url", "--api-key", "--approval"]);

function envFlag(name: string): boolean | undefined {
  const v = Deno.env.get(name);
  if (v === undefined || v === "") return undefined;
  if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
  if (/^(0|false|no|off)$/i.test(v.trim())) return false;
  throw new UsageError(`${name} must be true or false (1/0, yes/no, on/off), got '${v}'`);
}

function parseApproval(value: string, source: string): "auto" | "manual" {
  const v = value.trim().toLowerCase();
  if (v === "auto" || v === "manual") return v;
  throw new UsageError(`${source} must be 'auto' or 'manual', got '${value}'`);
}

/**
 * Splits argv into global options, the command and its arguments.
 *
 * @example
 * ```ts
 * const parsed = parseGlobalArgs(["--workspace", "/tmp/p", "grep", "TODO", "--json"]);
 * // parsed.command === "grep", parsed.args === ["TODO"], parsed.options.json === true
 * ```
 */
export function parseGlobalArgs(argv: string[]): ParsedCommandLine {
  const flags: Record<string, string | boolean> = {};
  let i = 0;
  let help = false;
  let version = false;
  // Global flags before the command.
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-") break;
    if (arg === "--") {
      i++;
      break;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_FLAGS.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value. See 'dspy-code --help'.`);
      flags[name] = value;
    } else if (name === "--help" || name === "-h") help = true;
    else if (name === "--version" || name === "-V") version = true;
    else if (["--ollama", "--no-ollama", "--plain", "--json"].includes(name) && eq < 0) flags[name] = true;
    else throw new UsageError(`unknown option ${arg}. See 'dspy-code --help'.`);
  }
  const command = argv[i];
  const rest = argv.slice(i + 1);
  // --workspace/--plain/--json after the command (until a bare `--`).
  const args: string[] = [];
  for (let j = 0; j < rest.length; j++) {
    const arg = rest[j];
    if (arg === "--") {
      args.push(...rest.slice(j));
      break;
    }
    if (arg === "--plain" || arg === "--json") flags[arg] = true;
    else if (arg === "--workspace" && j + 1 < rest.length) flags[arg] = rest[++j];
    else if (arg.startsWith("--workspace=")) flags["--workspace"] = arg.slice("--workspace=".length);
    else args.push(arg);
  }

  const ollamaFlag = flags["--ollama"] ? true : flags["--no-ollama"] ? false : undefined;
  const ollama = ollamaFlag ?? envFlag("USE_OLLAMA") ?? true;
  const envModel = ollama
    ? Deno.env.get("OLLAMA_MODEL") || Deno.env.get("MODEL_NAME")
    : Deno.env.get("MODEL_NAME") || Deno.env.get("OLLAMA_MODEL");
  const approvalFlag = flags["--approval"] as string | undefined;
  const approvalEnv = Deno.env.get("TOOL_APPROVAL");
  const options: GlobalOptions = {
    model: (flags["--model"] as string | undefined) || envModel || DEFAULT_MODEL,
    ollama,
    baseUrl: (flags["--base-url"] as string | undefined) || Deno.env.get("OPENAI_BASE_URL") || undefined,
    apiKey: (flags["--api-key"] as string | undefined) || Deno.env.get("OPENAI_API_KEY") || undefined,
    approval: approvalFlag !== undefined
      ? parseApproval(approvalFlag, "--approval")
      : approvalEnv
      ? parseApproval(approvalEnv, "TOOL_APPROVAL")
      : "auto",
    plain: flags["--plain"] === true || shouldBePlain(),
    json: flags["--json"] === true,
  };
  return {
    // An explicit `--workspace ""` stays empty (and is refused as a usage error), never "the current folder".
    workspace: flags["--workspace"] !== undefined
      ? flags["--workspace"] as string
      : Deno.env.get("DSPY_WORKSPACE") || undefined,
    options,
    help,
    version,
    command,
    args,
  };
}

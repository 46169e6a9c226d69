/**
 * Runs a session line: splits it into `&&`-chained commands, runs each through the dispatcher and stops at
 * the first failure. A line whose first word is not a command goes to the agent's router in an interactive
 * session; elsewhere it gets a "did you mean" error.
 *
 * @module
 */

import { errorMessage, UsageError, UserError } from "../core/errors.ts";
import type { CommandContext, CommandResult } from "./command.ts";
import { runCommand } from "./dispatch.ts";
import { getRouteHandler } from "./hooks.ts";
import { commandNames, findCommand } from "./registry.ts";
import { splitCommandLine, suggest } from "./tokenize.ts";
import { createOutput } from "./output.ts";
import { resolveWorkspace } from "../core/workspace.ts";

/** The error text for an unknown command, with suggestions. */
export function unknownCommandMessage(name: string): string {
  const hints = suggest(name, commandNames());
  return `unknown command '${name}'` +
    (hints.length ? `. Did you mean ${hints.map((h) => `'${h}'`).join(" or ")}?` : ".") +
    ` Run 'dspy-code --help' for the list.`;
}

/**
 * Takes the flags every command accepts after its name (`--json`, `--plain`, `--workspace DIR`) out of a
 * session command's arguments, as the subcommand entry does (see `cli/globals.ts`), so a line behaves the
 * same typed in the session or after `dspy-code`. Arguments after a bare `--` are left alone.
 */
export function takeCommandFlags(
  args: string[],
): { args: string[]; json: boolean; plain: boolean; workspace?: string } {
  const rest: string[] = [];
  let json = false;
  let plain = false;
  let workspace: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (arg === "--json") json = true;
    else if (arg === "--plain") plain = true;
    else if (arg === "--workspace" && i + 1 < args.length) workspace = args[++i];
    else if (arg.startsWith("--workspace=")) workspace = arg.slice("--workspace=".length);
    else rest.push(arg);
  }
  return { args: rest, json, plain, workspace };
}

/** The context one session command runs in: the session's, with that command's `--json`/`--plain`/`--workspace`. */
function commandContext(
  ctx: CommandContext,
  flags: { json: boolean; plain: boolean; workspace?: string },
): CommandContext {
  if (!flags.json && !flags.plain && flags.workspace === undefined) return ctx;
  const json = flags.json || ctx.out.json;
  const plain = flags.plain || ctx.out.plain;
  const out = json === ctx.out.json && plain === ctx.out.plain ? ctx.out : createOutput({ json, plain });
  const workspace = flags.workspace === undefined
    ? ctx.workspace
    : resolveWorkspace(flags.workspace, ctx.workspace);
  // The session's context stays the owner of `cd` (setWorkspace) and of the session state.
  return { ...ctx, out, workspace, options: { ...ctx.options, json, plain } };
}

/**
 * Runs one line in a context. Prints errors itself; never throws for bad input. In an interactive session a
 * line whose first word is not a command goes to the router as a whole (`&&` included); a later unknown
 * command is an error before anything runs.
 */
export async function executeLine(line: string, ctx: CommandContext): Promise<CommandResult> {
  let commands: string[][];
  try {
    commands = splitCommandLine(line);
  } catch (err) {
    // An unbalanced quote in a request to the router ("what's this?") is not a command line.
    const route = getRouteHandler();
    const first = line.trim().split(/\s+/)[0];
    if (route && ctx.session.interactive && first && !findCommand(first)) return await routeLine(line, ctx);
    ctx.out.error(errorMessage(err));
    return { ok: false, code: 2, error: errorMessage(err) };
  }
  if (commands.length === 0) {
    ctx.out.error("empty line: type 'help' for the commands");
    return { ok: false, code: 2, error: "empty line" };
  }
  const specs = commands.map(([name]) => findCommand(name));
  if (!specs[0] && getRouteHandler() && ctx.session.interactive) return await routeLine(line, ctx);
  for (const [i, [name]] of commands.entries()) {
    const spec = specs[i];
    if (spec && !(spec.scope === "cli" && ctx.session.interactive)) continue;
    const message = spec
      ? `'${name}' is not available in the session; run 'dspy-code ${name}' from a shell`
      : unknownCommandMessage(name);
    ctx.out.error(message);
    return { ok: false, code: 2, error: message };
  }
  let result: CommandResult = { ok: true };
  for (const [i, [, ...words]] of commands.entries()) {
    const spec = specs[i]!;
    let flags;
    let runCtx = ctx;
    if (ctx.session.interactive) {
      flags = takeCommandFlags(words);
      try {
        runCtx = commandContext(ctx, flags);
      } catch (err) {
        ctx.out.error(errorMessage(err));
        return { ok: false, code: err instanceof UserError ? err.exitCode : 1, error: errorMessage(err) };
      }
    }
    result = await runCommand(spec, flags ? flags.args : words, runCtx);
    if (!result.ok) break;
  }
  return result;
}

async function routeLine(line: string, ctx: CommandContext): Promise<CommandResult> {
  try {
    return await getRouteHandler()!(line.trim(), ctx);
  } catch (err) {
    ctx.out.error(errorMessage(err));
    return { ok: false, code: 1, error: errorMessage(err) };
  }
}

/** Throws a {@link UsageError} for an unknown subcommand (exit code 2). */
export function assertKnownCommand(name: string): void {
  if (!findCommand(name)) throw new UsageError(unknownCommandMessage(name));
}

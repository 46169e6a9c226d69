/**
 * Runs a session line: splits it into `&&`-chained commands, runs each through the dispatcher and stops at
 * the first failure. A line whose first word is not a command goes to the agent's router in an interactive
 * session; elsewhere it gets a "did you mean" error.
 *
 * @module
 */

import { errorMessage, UsageError } from "../core/errors.ts";
import type { CommandContext, CommandResult } from "./command.ts";
import { runCommand } from "./dispatch.ts";
import { getRouteHandler } from "./hooks.ts";
import { commandNames, findCommand } from "./registry.ts";
import { splitCommandLine, suggest } from "./tokenize.ts";

/** The error text for an unknown command, with suggestions. */
export function unknownCommandMessage(name: string): string {
  const hints = suggest(name, commandNames());
  return `unknown command '${name}'` +
    (hints.length ? `. Did you mean ${hints.map((h) => `'${h}'`).join(" or ")}?` : ".") +
    ` Run 'dspy-code --help' for the list.`;
}

/** Runs one line in a context. Prints errors itself; never throws for bad input. */
export async function executeLine(line: string, ctx: CommandContext): Promise<CommandResult> {
  let commands: string[][];
  try {
    commands = splitCommandLine(line);
  } catch (err) {
    ctx.out.error(errorMessage(err));
    return { ok: false, code: 2, error: errorMessage(err) };
  }
  if (commands.length === 0) {
    ctx.out.error("empty line: type 'help' for the commands");
    return { ok: false, code: 2, error: "empty line" };
  }
  let result: CommandResult = { ok: true };
  for (const [name, ...args] of commands) {
    const spec = findCommand(name);
    if (spec && !(spec.scope === "cli" && ctx.session.interactive)) {
      result = await runCommand(spec, args, ctx);
    } else {
      const route = getRouteHandler();
      if (!spec && route && commands.length === 1 && ctx.session.interactive) {
        try {
          return await route(line.trim(), ctx);
        } catch (err) {
          ctx.out.error(errorMessage(err));
          return { ok: false, code: 1, error: errorMessage(err) };
        }
      }
      const message = spec
        ? `'${name}' is not available in the session; run 'dspy-code ${name}' from a shell`
        : unknownCommandMessage(name);
      ctx.out.error(message);
      return { ok: false, code: 2, error: message };
    }
    if (!result.ok) break;
  }
  return result;
}

/** Throws a {@link UsageError} for an unknown subcommand (exit code 2). */
export function assertKnownCommand(name: string): void {
  if (!findCommand(name)) throw new UsageError(unknownCommandMessage(name));
}

/**
 * Builds the {@link CommandContext} commands run in, for a subcommand or an interactive session.
 *
 * @module
 */

import { configureEvents } from "../core/events.ts";
import { excludeStateFromGit } from "../core/git_exclude.ts";
import { pinStateRoot, resolveWorkspace, stateRoot } from "../core/workspace.ts";
import type { CommandContext, CommandResult, GlobalOptions, SessionInfo } from "./command.ts";
import type { LineSource } from "./input.ts";
import type { Output } from "./output.ts";

/** Options for {@link createContext}. */
export interface ContextOptions {
  workspace: string;
  options: GlobalOptions;
  out: Output;
  session: SessionInfo;
  /** Where confirmations are read from (the session's input); stdin otherwise. */
  input?: () => Promise<LineSource>;
  signal: AbortSignal;
  /** Runs a line (provided by the caller to avoid an import cycle with the line runner). */
  runLine: (line: string, ctx: CommandContext) => Promise<CommandResult>;
}

/** Creates a command context. `setWorkspace` validates the path and re-points events at it. */
export function createContext(init: ContextOptions): CommandContext {
  if (init.session.interactive) pinStateRoot(init.workspace);
  const ctx: CommandContext = {
    workspace: init.workspace,
    options: init.options,
    out: init.out,
    session: init.session,
    signal: init.signal,
    async confirm(question) {
      if (!init.input) return false;
      const source = await init.input();
      const answer = await source.next(`${question} [y/N] `);
      if (answer === null) return false;
      if (!Deno.stdin.isTerminal()) init.out.info(`${question} [y/N] ${answer}`);
      return /^y(es)?$/i.test(answer.trim());
    },
    setWorkspace(path) {
      ctx.workspace = resolveWorkspace(path, ctx.workspace);
      // A folder inside the session's workspace shares its state; another project gets its own.
      if (stateRoot(ctx.workspace) === ctx.workspace) {
        pinStateRoot(ctx.workspace);
        void excludeStateFromGit(ctx.workspace);
      }
      configureEvents({ workspace: ctx.workspace });
    },
    runLine: (line) => init.runLine(line, ctx),
  };
  return ctx;
}

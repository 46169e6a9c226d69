/**
 * The interactive session (`dspy-code` with no command): a start-up panel, then one command per line with
 * prompt `dspy-code> `. In a terminal it has line editing and history; through a pipe it reads one command
 * per line and is fully scriptable. Bad or empty lines print an error and the session goes on; only
 * `exit`, `quit` or end of input (Ctrl-D) end it.
 *
 * @module
 */

import { join } from "../core/path.ts";
import { errorMessage } from "../core/errors.ts";
import { flushEvents } from "../core/events.ts";
import { workspacePaths } from "../core/workspace.ts";
import { type CommandContext, EXIT_REQUESTED } from "./command.ts";
import { getPanelRows } from "./hooks.ts";
import type { LineSource } from "./input.ts";
import { commandEnded, commandStarted } from "./session_activity.ts";
import { startPrewarm } from "./session_index.ts";

const PANEL_TIMEOUT_MS = 1500;

async function panelRows(ctx: CommandContext): Promise<[string, string][]> {
  const rows: [string, string][] = [
    ["workspace", ctx.workspace],
    ["approval", ctx.options.approval],
  ];
  const timers: ReturnType<typeof setTimeout>[] = [];
  const extra = await Promise.all(
    getPanelRows().map((provider) =>
      Promise.race([
        provider(ctx).catch((err) => ["status", `unavailable (${errorMessage(err)})`] as [string, string]),
        new Promise<undefined>((r) => timers.push(setTimeout(() => r(undefined), PANEL_TIMEOUT_MS))),
      ])
    ),
  );
  timers.forEach(clearTimeout);
  for (const row of extra) if (row) rows.push(row);
  if (getPanelRows().length === 0) {
    rows.push(["llm", `${ctx.options.model} via ${ctx.options.ollama ? "Ollama" : "OpenAI-compatible API"}`]);
  }
  return rows;
}

/** Runs the session until exit; returns the process exit code (0, or 130 after Ctrl-C at a piped prompt). */
export async function runSession(
  ctx: CommandContext,
  source: LineSource,
  runLine: (line: string, ctx: CommandContext) => Promise<unknown>,
): Promise<number> {
  const { out } = ctx;
  const interactiveTerminal = Deno.stdin.isTerminal();
  out.panel("dspy-code session", await panelRows(ctx));
  out.print(out.c.dim("Type 'help' for commands, 'exit' to leave. Other lines go to the agent's router."));
  // The indexes are brought up to date in the background while the user types (started before the prompt).
  // A nicety: whatever goes wrong there, the session starts.
  await startPrewarm(ctx).catch(() => {});
  // In a terminal readline reports Ctrl-C (see input.ts). Through a pipe the session listens for SIGINT
  // itself: while a command runs it interrupts that command, as in a terminal; while the session waits for
  // the next line it ends the session as end of input would, with exit code 130.
  let interruptHandler: (() => void) | null = null;
  let interruptedIdle = false;
  const onPipeSignal = () => {
    if (interruptHandler) interruptHandler();
    else {
      interruptedIdle = true;
      out.warn("interrupted: leaving the session");
      source.close();
    }
  };
  const pipeSignals = !interactiveTerminal && Deno.build.os !== "windows";
  if (pipeSignals) Deno.addSignalListener("SIGINT", onPipeSignal);
  const onInterrupt = (handler: (() => void) | null) =>
    pipeSignals ? (interruptHandler = handler) : source.onInterrupt?.(handler);
  while (true) {
    const line = await source.next(out.c.bold("dspy-code> "));
    if (line === null || interruptedIdle) break;
    if (!interactiveTerminal) out.print(`dspy-code> ${line}`);
    // Each line gets its own abort signal: Ctrl-C while it runs interrupts that command, not the session;
    // a second Ctrl-C for a command that does not stop ends the process.
    const abort = new AbortController();
    ctx.signal = abort.signal;
    onInterrupt(() => {
      if (abort.signal.aborted) {
        out.error("interrupted twice: leaving the session");
        Deno.exit(130);
      }
      out.warn("interrupting the command (Ctrl-C again to leave the session)");
      abort.abort();
    });
    commandStarted(ctx);
    try {
      await runLine(line, ctx);
    } catch (err) {
      // A command must never take the session down.
      out.error(errorMessage(err));
    } finally {
      onInterrupt(null);
      commandEnded(ctx);
    }
    if (ctx.session.state.get(EXIT_REQUESTED)) break;
    await flushEvents();
  }
  if (pipeSignals) Deno.removeSignalListener("SIGINT", onPipeSignal);
  out.print("bye");
  source.close();
  return interruptedIdle ? 130 : 0;
}

/** Where the terminal history of a workspace is kept. */
export function historyFile(workspace: string): string {
  return join(workspacePaths(workspace).stateDir, "history");
}

/**
 * The CLI entry: parses global flags, resolves the workspace, then runs one subcommand or the interactive
 * session, and returns the process exit code. Events are flushed and KV closed before returning.
 *
 * @module
 */

import { errorMessage, UserError } from "../core/errors.ts";
import { configureEvents, flushEvents } from "../core/events.ts";
import { closeAllKv } from "../core/kv.ts";
import { VERSION } from "../core/version.ts";
import { resolveWorkspace, stateRoot } from "../core/workspace.ts";
import { excludeStateFromGit } from "../core/git_exclude.ts";
import type { SessionInfo } from "./command.ts";
import { createContext } from "./context.ts";
import { runCommand } from "./dispatch.ts";
import { parseGlobalArgs } from "./globals.ts";
import { commandHelp, mainHelp } from "./help.ts";
import type { LineSource } from "./input.ts";
import { executeLine, unknownCommandMessage } from "./line.ts";
import { createOutput } from "./output.ts";
import { findCommand } from "./registry.ts";
import { lazyImport } from "./lazy.ts";

/** Runs the CLI with `argv` (without the program name) and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseGlobalArgs(argv);
  } catch (err) {
    createOutput().error(errorMessage(err));
    return err instanceof UserError ? err.exitCode : 1;
  }
  const out = createOutput({ plain: parsed.options.plain, json: parsed.options.json });
  if (parsed.version) {
    out.print(`dspy-code ${VERSION}`);
    return 0;
  }
  if (parsed.help && !parsed.command) {
    out.print(mainHelp(out.c));
    return 0;
  }
  const spec = parsed.command ? findCommand(parsed.command) : undefined;
  // Help is always available; only running a session command needs the session.
  if (
    spec &&
    (parsed.help || parsed.args.includes("--help") || (parsed.args.length === 1 && parsed.args[0] === "-h"))
  ) {
    out.print(commandHelp(spec, out.c));
    return 0;
  }
  if (parsed.command && (!spec || spec.scope === "session")) {
    out.error(
      spec
        ? `'${parsed.command}' only works inside the interactive session (run 'dspy-code' to open it)`
        : unknownCommandMessage(parsed.command),
    );
    return 2;
  }
  let workspace: string;
  try {
    // `deno task start` runs in the repository folder; the task passes the folder it was started from
    // (DSPY_INIT_CWD, from Deno's INIT_CWD) so the default and relative workspaces mean what the user typed.
    // It is removed so the commands' own subprocesses do not inherit it.
    const taskCwd = Deno.env.get("DSPY_INIT_CWD");
    if (taskCwd !== undefined) Deno.env.delete("DSPY_INIT_CWD");
    workspace = resolveWorkspace(parsed.workspace ?? ".", taskCwd || Deno.cwd());
  } catch (err) {
    out.error(errorMessage(err));
    return err instanceof UserError ? err.exitCode : 1;
  }
  configureEvents({ workspace });
  // dspy-code's state stays out of `git status` through .git/info/exclude (never the user's .gitignore).
  await excludeStateFromGit(stateRoot(workspace));

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) Deno.exit(130);
    abort.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  // The session's own readline handles Ctrl-C at the prompt; subcommands get an abort signal.
  if (spec) { for (const s of signals) Deno.addSignalListener(s, onSignal); }

  let input: LineSource | undefined;
  const getInput = async () => {
    if (!input) {
      if (Deno.stdin.isTerminal()) {
        const { terminalLineSource } = await lazyImport<typeof import("./input.ts")>(
          new URL("./input.ts", import.meta.url),
        );
        const { historyFile } = await lazyImport<typeof import("./session.ts")>(
          new URL("./session.ts", import.meta.url),
        );
        input = await terminalLineSource(spec ? undefined : historyFile(workspace));
      } else {
        const { pipeLineSource } = await lazyImport<typeof import("./input.ts")>(
          new URL("./input.ts", import.meta.url),
        );
        input = pipeLineSource();
      }
    }
    return input;
  };
  const session: SessionInfo = {
    id: spec ? `cli:${Date.now()}` : `session:${crypto.randomUUID()}`,
    interactive: !spec,
    step: 0,
    state: new Map(),
  };
  const ctx = createContext({
    workspace,
    options: parsed.options,
    out,
    session,
    input: getInput,
    signal: abort.signal,
    runLine: executeLine,
  });
  let code: number;
  let closeMirror: (() => Promise<void>) | undefined;
  try {
    if (spec && spec.recordEvents !== false) {
      const { startEventMirror } = await lazyImport<typeof import("./event_mirror.ts")>(
        new URL("./event_mirror.ts", import.meta.url),
      );
      closeMirror = await startEventMirror(spec.name, workspace);
    }
    if (spec) {
      const result = await runCommand(spec, parsed.args, ctx);
      code = result.code ?? (result.ok ? 0 : 1);
    } else {
      const { runSession } = await lazyImport<typeof import("./session.ts")>(
        new URL("./session.ts", import.meta.url),
      );
      code = await runSession(ctx, await getInput(), executeLine);
    }
  } finally {
    // What the session's state holds open (the index watch of `esearch`) is released with it.
    for (const value of session.state.values()) (value as Partial<Disposable>)?.[Symbol.dispose]?.();
    input?.close();
    if (spec) { for (const s of signals) Deno.removeSignalListener(s, onSignal); }
    await flushEvents().catch(() => {});
    await closeMirror?.().catch((err) => out.warn(`Kafka event mirror: ${errorMessage(err)}`));
    await closeAllKv();
  }
  return code;
}

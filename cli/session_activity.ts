/**
 * Whether the session is running a command, and since when it has been waiting for the next line: background
 * work that would compete with the user's commands for the one thread (the embedding index's pre-warm) waits
 * for a quiet moment.
 *
 * @module
 */

import type { CommandContext } from "./command.ts";

const KEY = "session.activity";

interface Activity {
  /** A command is running. */
  busy: boolean;
  /** When the last command ended (or the session started), `performance.now()`. */
  since: number;
}

function activityOf(ctx: CommandContext): Activity {
  let a = ctx.session.state.get(KEY) as Activity | undefined;
  if (!a) ctx.session.state.set(KEY, a = { busy: false, since: performance.now() });
  return a;
}

/** Called by the session around each line it runs. */
export function commandStarted(ctx: CommandContext): void {
  activityOf(ctx).busy = true;
}

/** Called by the session when a line's command ended. */
export function commandEnded(ctx: CommandContext): void {
  const a = activityOf(ctx);
  a.busy = false;
  a.since = performance.now();
}

/** Resolves once no command has run for `quietMs` (checked every 100 ms). */
export async function sessionQuiet(ctx: CommandContext, quietMs: number): Promise<void> {
  const a = activityOf(ctx);
  while (a.busy || performance.now() - a.since < quietMs) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

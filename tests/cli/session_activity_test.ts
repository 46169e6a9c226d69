import assert from "node:assert/strict";
import type { CommandContext } from "../../cli/command.ts";
import { commandEnded, commandStarted, sessionQuiet } from "../../cli/session_activity.ts";

Deno.test("sessionQuiet waits while a command runs and until the session has been quiet long enough", async () => {
  const ctx = { session: { state: new Map<string, unknown>() } } as unknown as CommandContext;
  commandStarted(ctx);
  let quiet = false;
  const waiting = sessionQuiet(ctx, 300).then(() => quiet = true);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(quiet, false, "a command is still running");
  const ended = performance.now();
  commandEnded(ctx);
  await waiting;
  assert.ok(performance.now() - ended >= 300, "quiet for 300 ms after the command ended");
  // Quiet already: resolves at once.
  const started = performance.now();
  await new Promise((r) => setTimeout(r, 300));
  await sessionQuiet(ctx, 300);
  assert.ok(performance.now() - started < 700);
});

/**
 * Implementation of `embed worker|ingest|search|stats`.
 *
 * @module
 */

import type { CommandContext, CommandResult } from "../command.ts";

/** `embed worker`. */
export function runWorkerCommand(_args: string[], _ctx: CommandContext): Promise<CommandResult> {
  throw new Error("not yet");
}
/** `embed ingest`. */
export function runIngestCommand(_args: string[], _ctx: CommandContext): Promise<CommandResult> {
  throw new Error("not yet");
}
/** `embed search`. */
export function runSearchCommand(_args: string[], _ctx: CommandContext): Promise<CommandResult> {
  throw new Error("not yet");
}
/** `embed stats`. */
export function runStatsCommand(_args: string[], _ctx: CommandContext): Promise<CommandResult> {
  throw new Error("not yet");
}

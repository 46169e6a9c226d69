/**
 * Session and workspace commands (placeholder until the session module lands).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** Session commands. */
export const sessionCommands: CommandSpec[] = [];

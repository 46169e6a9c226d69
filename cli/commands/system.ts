/**
 * Session and workspace commands (placeholder until the system module lands).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** Session commands. */
export const systemCommands: CommandSpec[] = [];

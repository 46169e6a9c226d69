/**
 * Session and workspace commands (placeholder until the events module lands).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** Session commands. */
export const eventCommands: CommandSpec[] = [];

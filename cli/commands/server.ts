/**
 * Command specs for the server subsystem. Keep this file light: load implementations inside `run`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** The server commands, registered in `cli/registry.ts`. */
export const serverCommands: CommandSpec[] = [];

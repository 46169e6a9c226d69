/**
 * Command specs for the search subsystem. Keep this file light: load implementations inside `run`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** The search commands, registered in `cli/registry.ts`. */
export const searchCommands: CommandSpec[] = [];

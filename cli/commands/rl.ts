/**
 * Command specs for the rl subsystem. Keep this file light: load implementations inside `run`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** The rl commands, registered in `cli/registry.ts`. */
export const rlCommands: CommandSpec[] = [];

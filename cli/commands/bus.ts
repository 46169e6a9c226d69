/**
 * Command specs for the bus subsystem. Keep this file light: load implementations inside `run`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** The bus commands, registered in `cli/registry.ts`. */
export const busCommands: CommandSpec[] = [];

/**
 * Command specs for the agent subsystem. Keep this file light: load implementations inside `run`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** The agent commands, registered in `cli/registry.ts`. */
export const agentCommands: CommandSpec[] = [];

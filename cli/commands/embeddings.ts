/**
 * Command specs for the embeddings subsystem. Keep this file light: load implementations inside `run`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";

/** The embeddings commands, registered in `cli/registry.ts`. */
export const embeddingsCommands: CommandSpec[] = [];

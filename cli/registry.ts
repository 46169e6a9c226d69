/**
 * The one command table shared by the interactive session and the subcommands. Each subsystem contributes
 * its specs from `cli/commands/<area>.ts`; those files are light (heavy modules load inside `run`).
 *
 * @module
 */

import type { CommandSpec } from "./command.ts";
import { sessionCommands } from "./commands/session.ts";
import { eventCommands } from "./commands/events.ts";
import { systemCommands } from "./commands/system.ts";
import { searchCommands } from "./commands/search.ts";
import { embeddingsCommands } from "./commands/embeddings.ts";
import { embedCommands } from "./commands/embed.ts";
import { agentCommands } from "./commands/agent.ts";
import { busCommands } from "./commands/bus.ts";
import { rlCommands } from "./commands/rl.ts";
import { serverCommands } from "./commands/server.ts";
import { opsCommands } from "./commands/ops.ts";
import { experimentsCommands } from "./commands/experiments.ts";

/** Every command, in help order. */
export const COMMANDS: CommandSpec[] = [
  ...sessionCommands,
  ...searchCommands,
  ...embeddingsCommands,
  ...embedCommands,
  ...agentCommands,
  ...eventCommands,
  ...busCommands,
  ...rlCommands,
  ...experimentsCommands,
  ...serverCommands,
  ...opsCommands,
  ...systemCommands,
];

const byName = new Map<string, CommandSpec>();
for (const spec of COMMANDS) {
  for (const name of [spec.name, ...(spec.aliases ?? [])]) {
    if (byName.has(name)) throw new Error(`command name '${name}' is registered twice`);
    byName.set(name, spec);
  }
}

/** Looks a command up by name or alias. */
export function findCommand(name: string): CommandSpec | undefined {
  return byName.get(name);
}

/** All names and aliases (for suggestions). */
export function commandNames(): string[] {
  return [...byName.keys()];
}

/**
 * Extension points of the session that subsystems fill in from their command files: the natural-language
 * router (the agent) and extra rows for the start-up panel (e.g. LLM status). Kept apart from the registry so
 * command files can import it without an import cycle.
 *
 * @module
 */

import type { CommandContext, CommandResult } from "./command.ts";

/**
 * Handles a session line whose first word is not a command (natural-language routing). The agent
 * registers one with {@link setRouteHandler}; without it the session suggests commands instead.
 */
export type RouteHandler = (line: string, ctx: CommandContext) => Promise<CommandResult>;

let routeHandler: RouteHandler | undefined;

/** Installs the natural-language handler (the agent's router). */
export function setRouteHandler(handler: RouteHandler | undefined): void {
  routeHandler = handler;
}

/** The installed natural-language handler, if any. */
export function getRouteHandler(): RouteHandler | undefined {
  return routeHandler;
}

/** Extra rows for the session's start-up panel (e.g. LLM status), contributed by subsystems. */
export type PanelRowProvider = (ctx: CommandContext) => Promise<[string, string] | undefined>;

const panelRows: PanelRowProvider[] = [];

/** Adds a row provider to the session panel. */
export function addPanelRow(provider: PanelRowProvider): void {
  panelRows.push(provider);
}

/** The registered panel row providers. */
export function getPanelRows(): readonly PanelRowProvider[] {
  return panelRows;
}

/** What one command run produced, as seen by scorers and listeners. */
export interface ToolOutcome {
  /** Command name. */
  tool: string;
  /** Its arguments as typed. */
  args: string[];
  /** What the command returned (or the error it threw, as `{ok: false, error}`). */
  result: CommandResult;
  /** Wall time in seconds. */
  durationSec: number;
}

/** Computes a tool score for `tool.end` (the agent's reward table); undefined keeps the default. */
export type ToolScorer = (
  outcome: ToolOutcome,
  ctx: CommandContext,
) => number | undefined | Promise<number | undefined>;

/** Runs after every recorded command with the final score (the agent's bandit update, session summary). */
export type ToolEndListener = (
  outcome: ToolOutcome & { score: number },
  ctx: CommandContext,
) => void | Promise<void>;

/**
 * Runs when a recorded command starts (not awaited; errors are ignored): the place to start loading what the
 * scorer and the tool-end listeners will need, so that work overlaps the command instead of following it.
 */
export type ToolStartHook = (tool: string, ctx: CommandContext) => void | Promise<unknown>;

let toolScorer: ToolScorer | undefined;
const toolEndListeners: ToolEndListener[] = [];
const toolStartHooks: ToolStartHook[] = [];

/** Installs the tool scorer. */
export function setToolScorer(scorer: ToolScorer | undefined): void {
  toolScorer = scorer;
}

/** The installed tool scorer, if any. */
export function getToolScorer(): ToolScorer | undefined {
  return toolScorer;
}

/** Adds a listener called after every recorded command. */
export function addToolEndListener(listener: ToolEndListener): void {
  toolEndListeners.push(listener);
}

/** The registered tool-end listeners. */
export function getToolEndListeners(): readonly ToolEndListener[] {
  return toolEndListeners;
}

/** Adds a hook called when every recorded command starts. */
export function addToolStartHook(hook: ToolStartHook): void {
  toolStartHooks.push(hook);
}

/** The registered tool-start hooks. */
export function getToolStartHooks(): readonly ToolStartHook[] {
  return toolStartHooks;
}

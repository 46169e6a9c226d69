/**
 * The one emit API for agent events. `emitMetric` and `emitAction` wrap a payload in the envelopes the old
 * RedDB streams used (`{ts, workspace, metric, data}` on `agent.metrics`, `{ts, workspace, action, payload}`
 * on `agent.actions`) and hand it to the current publisher. By default the publisher appends to the
 * workspace's KV stream log (batched per tick); the bus replaces it with {@link setEventPublisher} so the
 * same calls flow through the bus (and Kafka) without any caller changing.
 *
 * @module
 */

import { openWorkspaceKv } from "./kv.ts";
import { appendToStream } from "./streams.ts";

/** Stream carrying metric envelopes (tool.start/end, session.summary, rl.* metrics). */
export const METRICS_STREAM = "agent.metrics";
/** Stream carrying action envelopes (patch.apply, rl.* actions, retrieval, route decisions). */
export const ACTIONS_STREAM = "agent.actions";

/** `{ts, workspace, metric, data}`: ts in seconds since the epoch, as the old tool wrote it. */
export interface MetricEnvelope<T = Record<string, unknown>> {
  ts: number;
  workspace: string;
  metric: string;
  data: T;
}

/** `{ts, workspace, action, payload}`. */
export interface ActionEnvelope<T = Record<string, unknown>> {
  ts: number;
  workspace: string;
  action: string;
  payload: T;
}

/** Any envelope stored on an agent stream. */
export type AgentEnvelope = MetricEnvelope | ActionEnvelope;

/** Receives every envelope; may be async. Errors are reported once on stderr and never thrown to callers. */
export type EventPublisher = (stream: string, envelope: AgentEnvelope) => void | Promise<void>;

let currentWorkspace: string | undefined;
let publisher: EventPublisher | null = null;
const pending = new Set<Promise<void>>();
let reportedFailure = false;

/** Sets the workspace that envelopes name and the default publisher writes to. */
export function configureEvents(options: { workspace: string }): void {
  currentWorkspace = options.workspace;
}

/** The workspace events are currently written for, if configured. */
export function eventsWorkspace(): string | undefined {
  return currentWorkspace;
}

/**
 * Replaces the publisher (the bus installs itself here). Pass `null` to go back to direct KV appends.
 * Returns the previous publisher so it can be restored.
 */
export function setEventPublisher(next: EventPublisher | null): EventPublisher | null {
  const previous = publisher;
  publisher = next;
  return previous;
}

/** Emits a metric envelope on `agent.metrics`. */
export function emitMetric(name: string, data: Record<string, unknown>): void {
  publish(METRICS_STREAM, { ts: Date.now() / 1000, workspace: currentWorkspace ?? "", metric: name, data });
}

/** Emits an action envelope on `agent.actions`. */
export function emitAction(name: string, payload: Record<string, unknown>): void {
  publish(ACTIONS_STREAM, {
    ts: Date.now() / 1000,
    workspace: currentWorkspace ?? "",
    action: name,
    payload,
  });
}

function publish(stream: string, envelope: AgentEnvelope): void {
  const target = publisher ?? kvPublisher;
  let result: void | Promise<void>;
  try {
    result = target(stream, envelope);
  } catch (err) {
    reportFailure(err);
    return;
  }
  if (result instanceof Promise) {
    const tracked = result.catch(reportFailure).finally(() => pending.delete(tracked));
    pending.add(tracked);
  }
}

function reportFailure(err: unknown): void {
  if (reportedFailure) return;
  reportedFailure = true;
  console.error(`warning: could not record an event: ${err instanceof Error ? err.message : err}`);
}

/** Waits until every event emitted so far has been written. Call before the process exits. */
export async function flushEvents(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}

// Default publisher: one KV commit per stream at a time (group commit). The envelopes emitted while a stream's
// commit is in flight wait in one open batch, which commits when that one is done; with no commit in flight,
// a batch commits as soon as the code that emitted into it yields. So a burst costs a few commits, not one
// per event, and there is no timer: a process's first `setTimeout` boots Deno's Node compatibility layer
// (~13 ms here), which one-shot commands such as `esearch` would otherwise pay just to record their events.
/** The open (not yet committing) batch per workspace and stream. */
const batches = new Map<string, { workspace: string; values: AgentEnvelope[]; done: Promise<void> }>();
/** The last pending append per workspace and stream, so batches commit one after another, in emit order. */
const chains = new Map<string, Promise<void>>();

function kvPublisher(stream: string, envelope: AgentEnvelope): Promise<void> {
  const workspace = currentWorkspace;
  if (!workspace) return Promise.resolve(); // not configured (e.g. a library user without a workspace)
  const key = `${workspace}\0${stream}`;
  let batch = batches.get(key);
  if (!batch) {
    const values: AgentEnvelope[] = [];
    // Concurrent commits would race for the stream's head and could store a later batch (tool.end) before an
    // earlier one (tool.start): each batch starts after the previous one is done, and closes when it starts.
    const previous = chains.get(key) ?? Promise.resolve();
    const done = previous.catch(() => {}).then(async () => {
      batches.delete(key);
      const kv = await openWorkspaceKv(workspace);
      await appendToStream(kv, stream, values);
    });
    chains.set(key, done);
    done.catch(() => {}).finally(() => {
      if (chains.get(key) === done) chains.delete(key);
    });
    batch = { workspace, values, done };
    batches.set(key, batch);
  }
  batch.values.push(envelope);
  return batch.done;
}

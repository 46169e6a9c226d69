/**
 * What the server needs from the bus: its metrics snapshot and the dead-letter queue (list, replay,
 * purge). {@link fromBus} builds a {@link ServerBus} from a running bus; keeping the routes on this narrow
 * interface lets them work with the LocalBus and the Kafka backend alike.
 *
 * @module
 */

import {
  type Bus,
  type BusMetrics,
  type DeadLetterRecord,
  durableStatus,
  type DurableTopicStatus,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
  type ReplayResult,
} from "../bus/mod.ts";

export type { BusMetrics, DeadLetterRecord, DurableTopicStatus, ReplayResult };

/** Which dead letters an action applies to. `{}` means all of them; `ids: []` means none. */
export interface DlqSelector {
  /** Only these record ids. */
  ids?: string[];
  /** Only records of this topic. */
  topic?: string;
}

/** The bus as the server sees it. */
export interface ServerBus {
  /** `local`, `kafka` or `mirror`. */
  readonly backend: string;
  /** The bus's metrics snapshot. */
  metrics(): BusMetrics;
  /** Dead letters, newest first. */
  dlqList(options: { limit: number; topic?: string }): Promise<DeadLetterRecord[]>;
  /** Republishes the selected dead letters to their topics and removes them. */
  dlqReplay(selector: DlqSelector): Promise<ReplayResult>;
  /** Deletes the selected dead letters; returns how many. */
  dlqPurge(selector: DlqSelector): Promise<number>;
  /**
   * The durable topics stored in the workspace's KV, written by any process (`bus publish --durable`, the
   * agent events of every CLI command), with each group's committed offset and lag.
   */
  durable?(): Promise<DurableTopicStatus[]>;
}

/** Wraps a running bus (started for a workspace) for the server. */
export function fromBus(bus: Bus): ServerBus {
  const workspace = bus.workspace;
  if (!workspace) throw new Error("the server needs a bus started for a workspace");
  return {
    backend: bus.backend,
    metrics: () => bus.metrics(),
    dlqList: ({ limit, topic }) => listDeadLetters(workspace, { limit, topic, reverse: true }),
    dlqReplay: (sel) =>
      sel.ids && sel.ids.length === 0
        ? Promise.resolve({ replayed: [], failed: [] })
        : replayDeadLetters(bus, sel),
    dlqPurge: (sel) =>
      sel.ids && sel.ids.length === 0 ? Promise.resolve(0) : purgeDeadLetters(workspace, sel),
    durable: () => durableStatus(workspace),
  };
}

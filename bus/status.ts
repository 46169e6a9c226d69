/**
 * Cross-process view of durable topics, read from KV: each durable topic's log range and, per consumer
 * group, the committed offset, the lag and whether a process currently holds the group's lease. `bus stats`
 * and the server show it next to the live metrics of their own bus.
 *
 * @module
 */

import { openWorkspaceKv } from "../core/kv.ts";
import { readStream, streamHead } from "../core/streams.ts";
import { listDurableTopics } from "./durable.ts";
import { DEFAULT_DURABLE_TOPICS } from "./start.ts";

/** One durable topic as stored. */
export interface DurableTopicStatus {
  topic: string;
  /** Newest sequence number (0 when empty). */
  head: number;
  /** Oldest retained sequence number (0 when empty). */
  first: number;
  /** Committed offsets per group. */
  groups: Record<string, { committed: number; lag: number; active: boolean }>;
}

/** Reads the durable topics of a workspace (declared ones, the agent streams, and any with offsets). */
export async function durableStatus(workspace: string): Promise<DurableTopicStatus[]> {
  const kv = await openWorkspaceKv(workspace);
  const topics = new Set<string>([...DEFAULT_DURABLE_TOPICS, ...(await listDurableTopics(kv)).keys()]);
  const offsets = new Map<string, Map<string, number>>();
  for await (const e of kv.list<number>({ prefix: ["bus", "offset"] })) {
    const [, , topic, group] = e.key as [string, string, string, string];
    topics.add(topic);
    if (!offsets.has(topic)) offsets.set(topic, new Map());
    offsets.get(topic)!.set(group, e.value);
  }
  const leases = new Map<string, number>();
  for await (const e of kv.list<{ expires: number }>({ prefix: ["bus", "lease"] })) {
    leases.set(`${e.key[2] as string}\0${e.key[3] as string}`, e.value.expires);
  }
  const now = Date.now();
  const out: DurableTopicStatus[] = [];
  for (const topic of [...topics].sort()) {
    const head = await streamHead(kv, topic);
    const firstEntry = await readStream(kv, topic, { limit: 1 });
    const groups: DurableTopicStatus["groups"] = {};
    for (const [group, committed] of offsets.get(topic) ?? []) {
      groups[group] = {
        committed,
        lag: Math.max(0, head - committed),
        active: (leases.get(`${topic}\0${group}`) ?? 0) > now,
      };
    }
    out.push({ topic, head, first: firstEntry[0]?.seq ?? 0, groups });
  }
  return out;
}

/**
 * True when some process holds the read lease of `group` on the durable `topic` now, so a new reader of that
 * group waits until it stops (or its lease expires, within 3 s of a crash). Works from any process.
 */
export async function groupLeaseActive(workspace: string, topic: string, group: string): Promise<boolean> {
  const kv = await openWorkspaceKv(workspace);
  const lease = await kv.get<{ expires: number }>(["bus", "lease", topic, group]);
  return lease.value !== null && lease.value.expires > Date.now();
}

/**
 * One bus consumer-group member fed by a kafkajs consumer in the Kafka group of the same name
 * ({@link startGroupConsumer}, behind `KafkaBus.subscribeGroup`). What holds:
 *
 * - **Bounded, and never deaf to the group.** A record goes into the member's queue only when the member
 *   has room. When it is full, `eachBatch` waits for room, and heartbeats every heartbeat interval while it
 *   waits: the coordinator keeps the member, and a pending rebalance comes back as the heartbeat's error,
 *   which ends the batch so kafkajs rejoins at once. The records of the batch not handed out were not
 *   resolved, so they are fetched again. (A batch that waited without heartbeats held up the rebalance of
 *   the whole group, and the member was dropped from it: issue #11.)
 * - **Offsets.** Per partition, the commit is the end of the acknowledged prefix of what was handed out: it
 *   never passes a record the consumer has not acknowledged. Commits run one after another.
 * - **Epochs.** Every group join (a new generation, whichever partitions it brings) starts an epoch: what the
 *   member had queued and not handed out is dropped (the broker hands it out again from the committed
 *   offsets, to this member or to the partition's new owner), and acknowledgements of records fetched in an
 *   earlier epoch no longer move offsets. So records in flight at a rebalance can be delivered twice:
 *   delivery is at-least-once, as everywhere on the bus.
 * - **Crashes.** kafkajs restarts a consumer after a retriable error; after any other (e.g. a SyncGroup the
 *   broker refused) it stays down. Then a new consumer joins after a backoff (0.5 s, doubling to 5 s),
 *   for as long as the member is open.
 *
 * @module
 */

import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Group, Member } from "../group.ts";
import { Ring } from "../ring.ts";
import { CONSUMER_TIMING } from "./client.ts";
import { KafkaMsg } from "./kafka_msg.ts";

/** Acknowledgements are committed this long after the first of them (so one commit covers a burst). */
const COMMIT_DELAY_MS = 20;
/** A commit that failed outside a rebalance is tried again after this long. */
const COMMIT_RETRY_MS = 500;
/** The first backoff before a crashed consumer is replaced; it doubles up to {@link RESTART_MAX_MS}. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 5000;

/** Options for {@link startGroupConsumer}. */
export interface GroupConsumerOptions {
  kafka: Kafka;
  /** The Kafka consumer group (the bus group's name). */
  groupId: string;
  /** The Kafka topic, with the prefix. */
  kafkaTopic: string;
  /** The bus topic, without it (what messages carry). */
  topic: string;
  /** The detached one-member bus group the records go to, and its member. */
  group: Group;
  member: Member<unknown>;
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  /** Keeps a background promise (a commit, a disconnect), so the bus can wait for it at flush and close. */
  track: (p: Promise<unknown>) => void;
  /** Reports a one-line warning (a crashed consumer being replaced). */
  warn: (message: string) => void;
}

/** A running group consumer. */
export interface GroupConsumer {
  /** Resolves when the first consumer has joined the group (or failed trying). */
  readonly ready: Promise<void>;
  /** Commits what is acknowledged and leaves the group; nothing restarts afterwards. */
  stop(): Promise<void>;
}

/** One partition in one epoch: the offsets handed out, in order, and the end of the acknowledged prefix. */
class PartitionOffsets {
  readonly #out = new Ring<number>();
  readonly #acked = new Set<number>();
  /** The last offset of the acknowledged prefix (the commit is this plus one). */
  committed: number;

  constructor(committed: number) {
    this.committed = committed;
  }

  handedOut(offset: number): void {
    this.#out.push(offset);
  }

  /** Records an acknowledgement; true when the acknowledged prefix grew. */
  ack(offset: number): boolean {
    this.#acked.add(offset);
    let moved = false;
    for (let head = this.#out.peek(); head !== undefined && this.#acked.has(head); head = this.#out.peek()) {
      this.#acked.delete(head);
      this.#out.shift();
      this.committed = head;
      moved = true;
    }
    return moved;
  }
}

/** Starts feeding `options.member` from the Kafka group; see the module doc for what holds. */
export function startGroupConsumer(options: GroupConsumerOptions): GroupConsumer {
  const { group: g, member } = options;
  let epoch = 0;
  let parts = new Map<number, PartitionOffsets>();
  const dirty = new Set<number>();
  let commitTimer: ReturnType<typeof setTimeout> | null = null;
  let committing: Promise<void> = Promise.resolve();
  let consumer: Consumer | null = null;
  let stopped = false;
  let restartDelay = RESTART_MIN_MS;
  let restartTimer: ReturnType<typeof setTimeout> | null = null;
  const roomWaiters = new Set<() => void>();
  let readyResolve = () => {};
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));

  const wakeWaiters = () => {
    for (const w of [...roomWaiters]) w();
  };
  g.onRoom = wakeWaiters;

  /** Resolves when the member may have room, or after `ms`. */
  const roomOrTimeout = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        roomWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      roomWaiters.add(done);
    });

  const commitNow = async (): Promise<void> => {
    const c = consumer;
    if (dirty.size === 0 || c === null) return;
    const at = epoch;
    const offsets = [...dirty].map((partition) => ({
      topic: options.kafkaTopic,
      partition,
      offset: String(parts.get(partition)!.committed + 1),
    }));
    dirty.clear();
    try {
      await c.commitOffsets(offsets);
    } catch {
      // Still this epoch (no rebalance since): a passing fault, so try again. After a rebalance the new
      // epoch starts from what the broker has, and these records come again.
      if (at === epoch && c === consumer && !stopped) {
        for (const o of offsets) dirty.add(o.partition);
        scheduleCommit(COMMIT_RETRY_MS);
      }
    }
  };
  /** Commits the acknowledged prefixes; commits run one after another, so an older one never lands last. */
  const commit = (): Promise<void> => {
    if (commitTimer !== null) {
      clearTimeout(commitTimer);
      commitTimer = null;
    }
    committing = committing.then(commitNow);
    return committing;
  };
  const scheduleCommit = (ms: number) => {
    if (commitTimer === null) {
      commitTimer = setTimeout(() => {
        commitTimer = null;
        options.track(commit());
      }, ms);
    }
  };

  g.onAck = (msgs) => {
    for (const m of msgs) {
      const km = m as KafkaMsg;
      if (km.epoch !== epoch) continue; // fetched before the last rebalance: those offsets are not ours now
      if (parts.get(km.partition)?.ack(km.seq)) dirty.add(km.partition);
    }
    if (dirty.size > 0) scheduleCommit(COMMIT_DELAY_MS);
  };
  g.onCommit = commit;

  /** A new generation: a new epoch (see the module doc). */
  const onJoin = () => {
    epoch++;
    parts = new Map();
    dirty.clear();
    if (commitTimer !== null) {
      clearTimeout(commitTimer);
      commitTimer = null;
    }
    g.dropQueued();
    restartDelay = RESTART_MIN_MS;
    readyResolve();
  };

  const eachBatch = async (
    { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
  ): Promise<void> => {
    const at = epoch;
    const live = () => at === epoch && !stopped && !member.closed && isRunning() && !isStale();
    let part = parts.get(batch.partition);
    if (part === undefined) {
      part = new PartitionOffsets(Number(batch.firstOffset()) - 1);
      parts.set(batch.partition, part);
    }
    for (const message of batch.messages) {
      if (!live()) return;
      const msg = KafkaMsg.from(options.topic, batch.partition, message, at);
      while (!g.tryOffer(msg)) {
        // Full: wait for room, but keep heartbeating. A pending rebalance makes heartbeat() throw; the
        // error ends this batch (its unresolved records are fetched again) and kafkajs rejoins the group.
        await roomOrTimeout(CONSUMER_TIMING.heartbeatInterval);
        if (!live()) return;
        try {
          await heartbeat();
        } catch (err) {
          await commit().catch(() => {}); // what is acknowledged, while this generation may still commit
          throw err;
        }
      }
      part.handedOut(msg.seq);
      resolveOffset(message.offset);
    }
    await heartbeat();
  };

  const replace = (c: Consumer, err: unknown) => {
    if (stopped || c !== consumer) return;
    consumer = null;
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
    options.warn(
      `Kafka group '${options.groupId}' on '${options.topic}': the consumer stopped ` +
        `(${err instanceof Error ? err.message : String(err)}); a new one joins in ${delay} ms`,
    );
    options.track(c.disconnect().catch(() => {}));
    restartTimer = setTimeout(() => {
      restartTimer = null;
      launch();
    }, delay);
  };

  const launch = () => {
    if (stopped) return;
    const c = options.kafka.consumer({ groupId: options.groupId, ...CONSUMER_TIMING });
    consumer = c;
    c.on(c.events.GROUP_JOIN, () => {
      if (c === consumer) onJoin();
    });
    c.on(c.events.CRASH, (event) => {
      if (c !== consumer) return;
      readyResolve();
      if (!event.payload.restart) replace(c, event.payload.error);
    });
    const run = (async () => {
      await c.connect();
      await c.subscribe({ topics: [options.kafkaTopic], fromBeginning: options.fromBeginning });
      await c.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
    })();
    // Not tracked: a join can take seconds, and neither flush nor close should wait for it (stop()
    // disconnects the consumer, which ends it).
    run.catch((err) => {
      readyResolve();
      replace(c, err);
    });
  };

  launch();
  return {
    ready,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (restartTimer !== null) clearTimeout(restartTimer);
      wakeWaiters();
      await commit().catch(() => {});
      const c = consumer;
      consumer = null;
      await c?.disconnect().catch(() => {});
    },
  };
}

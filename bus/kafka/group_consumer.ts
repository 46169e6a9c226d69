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
 *   never passes a record the consumer has not acknowledged. Commits run one after another, and one that
 *   fails is tried again while the partition stays with this member.
 * - **Rebalances.** At every group join (a new generation), a partition the member keeps keeps its queue and
 *   its offsets, and fetching resumes right after the last record handed out (a seek), not at the committed
 *   offset. A partition it lost is forgotten: its acknowledged prefix is committed once more (if it moved),
 *   its queued records are dropped, and acknowledgements of its records in flight no longer move offsets,
 *   because the new owner starts from the committed offset. Each time the member takes a partition it
 *   starts a new partition epoch, which its records carry. Records in flight when a partition moves can be
 *   processed twice: delivery is at-least-once, as everywhere on the bus.
 * - **Crashes.** kafkajs restarts a consumer after a retriable error; after any other (e.g. a SyncGroup the
 *   broker refused) it stays down. Then a new consumer joins after a backoff (0.5 s, doubling to 5 s), for
 *   as long as the member is open.
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
/** A commit that failed is tried again after this long. */
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

let lastEpoch = 0;

/** One partition while this member holds it: the offsets handed out, in order, and what is acknowledged. */
class PartitionState {
  /** Unique per process; the records handed out carry it. */
  readonly epoch = ++lastEpoch;
  readonly #out = new Ring<number>();
  readonly #acked = new Set<number>();
  /** The last offset of the acknowledged prefix (the commit is this plus one). */
  committed: number;
  /** Where fetching resumes: the offset after the last record handed out. */
  next: number;

  constructor(committed: number) {
    this.committed = committed;
    this.next = committed + 1;
  }

  handedOut(offset: number): void {
    this.#out.push(offset);
    this.next = offset + 1;
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
  const parts = new Map<number, PartitionState>();
  /** Partitions whose acknowledged prefix moved since their last commit. */
  const dirty = new Set<number>();
  /** The last acknowledged prefixes of partitions lost at a rebalance, for the next commit (tried once). */
  let lostOffsets: { topic: string; partition: number; offset: string }[] = [];
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

  const scheduleCommit = (ms: number) => {
    if (commitTimer === null) {
      commitTimer = setTimeout(() => {
        commitTimer = null;
        options.track(commit());
      }, ms);
    }
  };

  /**
   * Commits the acknowledged prefixes as they are now. Commits run one after another, so an older one never
   * lands last; a failed one is tried again while its partitions stay with this member.
   */
  const commit = (): Promise<void> => {
    if (commitTimer !== null) {
      clearTimeout(commitTimer);
      commitTimer = null;
    }
    const c = consumer;
    if ((dirty.size === 0 && lostOffsets.length === 0) || c === null) return committing;
    const states = [...dirty].map((partition) => ({ partition, state: parts.get(partition)! }));
    const offsets = states.map(({ partition, state }) => ({
      topic: options.kafkaTopic,
      partition,
      offset: String(state.committed + 1),
    })).concat(lostOffsets);
    dirty.clear();
    lostOffsets = [];
    committing = committing.then(async () => {
      try {
        await c.commitOffsets(offsets);
      } catch {
        if (stopped) return;
        let again = false;
        for (const { partition, state } of states) {
          if (parts.get(partition) === state) {
            dirty.add(partition);
            again = true;
          }
        }
        if (again) scheduleCommit(COMMIT_RETRY_MS);
      }
    });
    return committing;
  };

  g.onAck = (msgs) => {
    for (const m of msgs) {
      const km = m as KafkaMsg;
      const state = parts.get(km.partition);
      // A record of a partition this member lost since (or lost and took again): not ours to commit.
      if (state === undefined || state.epoch !== km.epoch) continue;
      if (state.ack(km.seq)) dirty.add(km.partition);
    }
    if (dirty.size > 0) scheduleCommit(COMMIT_DELAY_MS);
  };
  g.onCommit = commit;

  /** A new generation with `assigned` partitions (see the module doc). */
  const onJoin = (c: Consumer, assigned: number[]) => {
    const keep = new Set(assigned);
    const lost = new Set<number>();
    for (const [partition, state] of parts) {
      if (keep.has(partition)) {
        // Resume after what this member already holds, not from the committed offset.
        c.seek({ topic: options.kafkaTopic, partition, offset: String(state.next) });
        continue;
      }
      lost.add(partition);
      if (dirty.delete(partition)) {
        // Those records are done: committing them spares the new owner if this lands before it fetches.
        lostOffsets.push({ topic: options.kafkaTopic, partition, offset: String(state.committed + 1) });
      }
      parts.delete(partition);
    }
    if (lost.size > 0) g.dropQueued((m) => lost.has((m as KafkaMsg).partition));
    // Not at once: kafkajs ignores commits until the join has completed.
    if (dirty.size > 0 || lostOffsets.length > 0) scheduleCommit(COMMIT_DELAY_MS);
    restartDelay = RESTART_MIN_MS;
    readyResolve();
  };

  const eachBatch = async (
    { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
  ): Promise<void> => {
    let state = parts.get(batch.partition);
    if (state === undefined) {
      state = new PartitionState(Number(batch.firstOffset()) - 1);
      parts.set(batch.partition, state);
    }
    const mine = state;
    const live = () =>
      parts.get(batch.partition) === mine && !stopped && !member.closed && isRunning() && !isStale();
    for (const message of batch.messages) {
      if (!live()) return;
      const msg = KafkaMsg.from(options.topic, batch.partition, message, mine.epoch);
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
      mine.handedOut(msg.seq);
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
    c.on(c.events.GROUP_JOIN, (event) => {
      if (c === consumer) onJoin(c, event.payload.memberAssignment[options.kafkaTopic] ?? []);
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

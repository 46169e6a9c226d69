/**
 * Durable topics: messages are appended to the workspace's KV stream log (the same format as
 * `agent.metrics`, so `dspy-code tail` reads them) in batches, one commit per batch rather than per message.
 * Exact-topic subscribers and consumer groups read the log; a group commits its offset (the highest sequence
 * below which everything was acknowledged) to KV, so a restarted group resumes there. One process at a time
 * reads for a group: it holds a lease in KV that it renews, and a crashed holder's lease expires.
 *
 * Delivery is at-least-once: after a crash, messages past the committed offset are delivered again (with the
 * same id `TOPIC:SEQ`), i.e. those that were in flight or acknowledged within the last commit interval.
 *
 * KV keys: `["stream", topic, ...]` (the log, see core/streams.ts), `["bus", "topic", topic]` (settings of a
 * durable topic), `["bus", "offset", topic, group]` (committed offset), `["bus", "lease", topic, group]`.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import { openWorkspaceKv, withKvRetry } from "../core/kv.ts";
import { checkGroupName, checkTopicName } from "./limits.ts";
import {
  appendRecordsToStream,
  readStream,
  type StreamEntry,
  streamHead,
  type StreamRecord,
  trimStream,
} from "../core/streams.ts";
import type { Group } from "./group.ts";
import type { LocalBus } from "./local_bus.ts";
import { Msg } from "./message.ts";
import { compilePattern } from "./pattern.ts";
import { Ring } from "./ring.ts";
import type { FanoutSub } from "./subscriber.ts";
import type { TopicConfig } from "./types.ts";

/** Default retention of a durable topic. */
export const DEFAULT_RETENTION = { retentionCount: 100_000, retentionMs: 7 * 24 * 3600 * 1000 };
/** Largest message a durable topic stores (Deno KV values are limited to 64 KiB). */
export const MAX_DURABLE_BYTES = 60_000;
const PAGE = 500;
const IDLE_POLL_MS = 100;
const COMMIT_INTERVAL_MS = 20;
const LEASE_TTL_MS = 3000;
const TRIM_EVERY = 5000;

/** The committed offset of a group (0 when none). Works from any process. */
export async function committedOffset(kv: Deno.Kv, topic: string, group: string): Promise<number> {
  checkTopicName(topic);
  checkGroupName(group);
  return (await kv.get<number>(["bus", "offset", topic, group])).value ?? 0;
}

/** Durable topic settings stored in KV: topic → config. */
export async function listDurableTopics(kv: Deno.Kv): Promise<Map<string, TopicConfig>> {
  const out = new Map<string, TopicConfig>();
  for await (const e of kv.list<TopicConfig>({ prefix: ["bus", "topic"] })) {
    out.set(e.key[2] as string, e.value);
  }
  return out;
}

interface PendingAppend {
  records: StreamRecord[];
  resolvers: { resolve: () => void; reject: (err: unknown) => void }[];
}

/** Durable storage for one LocalBus. Create with {@link DurableStore.open}. */
export class DurableStore {
  readonly kv: Deno.Kv;
  readonly owner = crypto.randomUUID();
  #bus: LocalBus | null = null;
  #declared = new Map<string, TopicConfig>();
  #patterns: ((t: string) => boolean)[] = [];
  #pending = new Map<string, PendingAppend>();
  #scheduled = false;
  #writing: Promise<void> | null = null;
  #readers = new Set<LogReader>();
  #initGates = new Map<string, Set<Promise<unknown>>>();
  #heads = new Map<string, number>();
  #appendsSinceTrim = new Map<string, number>();
  #trims = new Set<Promise<unknown>>();
  #closed = false;

  private constructor(kv: Deno.Kv) {
    this.kv = kv;
  }

  /** Opens the store of a workspace and loads the durable topic settings other processes recorded. */
  static async open(workspace: string, durablePatterns: string[] = []): Promise<DurableStore> {
    const store = new DurableStore(await openWorkspaceKv(workspace));
    store.#declared = await listDurableTopics(store.kv);
    store.#patterns = durablePatterns.map(compilePattern);
    return store;
  }

  /** Internal: attaches the bus. */
  bind(bus: LocalBus): void {
    this.#bus = bus;
  }

  /** True when a topic is durable (declared in KV or matching a configured pattern). */
  isDurable(topic: string): boolean {
    return this.#declared.has(topic) || this.#patterns.some((p) => p(topic));
  }

  #config(topic: string): Required<Omit<TopicConfig, "durable">> {
    const c = this.#declared.get(topic) ?? {};
    return {
      retentionCount: c.retentionCount ?? DEFAULT_RETENTION.retentionCount,
      retentionMs: c.retentionMs ?? DEFAULT_RETENTION.retentionMs,
    };
  }

  /** Records a topic as durable in KV (other processes see it when they start their bus). */
  async declare(topic: string, config: TopicConfig): Promise<void> {
    checkTopicName(topic);
    const stored: TopicConfig = { durable: true };
    if (config.retentionCount !== undefined) stored.retentionCount = config.retentionCount;
    if (config.retentionMs !== undefined) stored.retentionMs = config.retentionMs;
    this.#declared.set(topic, stored);
    await this.kv.set(["bus", "topic", topic], stored);
  }

  /** Forgets a topic's durable setting (its log stays until trimmed). */
  async undeclare(topic: string): Promise<void> {
    this.#declared.delete(topic);
    await this.kv.delete(["bus", "topic", topic]);
  }

  /** Queues a message for the log; resolves when it is committed. */
  append(
    topic: string,
    value: unknown,
    key: string | null,
    headers: Record<string, string> | null,
  ): Promise<void> {
    if (this.#closed) return Promise.reject(new UserError(`cannot publish on '${topic}': the bus is closed`));
    try {
      checkTopicName(topic);
    } catch (err) {
      return Promise.reject(err);
    }
    const size = JSON.stringify(value).length;
    if (size > MAX_DURABLE_BYTES) {
      return Promise.reject(
        new UserError(
          `cannot publish on durable topic '${topic}': the message is ${size} bytes, over the ${MAX_DURABLE_BYTES}-byte ` +
            `limit of the KV log; store large payloads in a file and publish its path`,
        ),
      );
    }
    let p = this.#pending.get(topic);
    if (p === undefined) {
      p = { records: [], resolvers: [] };
      this.#pending.set(topic, p);
    }
    p.records.push({ value, key, headers, jsonLength: size });
    const pending = p;
    const done = new Promise<void>((resolve, reject) => pending.resolvers.push({ resolve, reject }));
    this.#schedule();
    return done;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing !== null) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#startWrite();
    }, 0);
  }

  #startWrite(): void {
    if (this.#writing !== null || this.#pending.size === 0) return;
    this.#writing = this.#writeAll().finally(() => {
      this.#writing = null;
      if (this.#pending.size > 0) this.#schedule();
    });
  }

  async #writeAll(): Promise<void> {
    while (this.#pending.size > 0) {
      const batches = [...this.#pending.entries()];
      this.#pending.clear();
      for (const [topic, batch] of batches) {
        try {
          const gates = this.#initGates.get(topic);
          if (gates !== undefined && gates.size > 0) await Promise.allSettled([...gates]);
          const seqs = await appendRecordsToStream(this.kv, topic, batch.records);
          const last = seqs[seqs.length - 1];
          this.#heads.set(topic, Math.max(this.#heads.get(topic) ?? 0, last));
          for (const r of batch.resolvers) r.resolve();
          const bus = this.#bus;
          if (bus !== null) {
            const ts = Date.now();
            for (let i = 0; i < seqs.length; i++) {
              const rec = batch.records[i];
              bus.deliverDurableToPatterns(
                new Msg(topic, seqs[i], rec.key ?? null, rec.headers ?? null, ts, rec.value, 1),
              );
            }
          }
          for (const r of this.#readers) if (r.topic === topic) r.wake();
          this.#maybeTrim(topic, seqs.length);
        } catch (err) {
          const wrapped = new UserError(
            `could not write to durable topic '${topic}': ${err instanceof Error ? err.message : err}`,
          );
          for (const r of batch.resolvers) r.reject(wrapped);
        }
      }
    }
  }

  #maybeTrim(topic: string, n: number): void {
    const since = (this.#appendsSinceTrim.get(topic) ?? 0) + n;
    if (since < TRIM_EVERY) {
      this.#appendsSinceTrim.set(topic, since);
      return;
    }
    this.#appendsSinceTrim.set(topic, 0);
    const c = this.#config(topic);
    const t = trimStream(this.kv, topic, { maxCount: c.retentionCount, maxAgeMs: c.retentionMs }).catch(() =>
      0
    );
    this.#trims.add(t);
    t.finally(() => this.#trims.delete(t));
  }

  /** Applies retention to a durable topic now; returns how many entries were removed. */
  trim(topic: string): Promise<number> {
    const c = this.#config(topic);
    return trimStream(this.kv, topic, { maxCount: c.retentionCount, maxAgeMs: c.retentionMs });
  }

  /** Newest sequence number this process knows of for a topic. */
  knownHead(topic: string): number {
    return this.#heads.get(topic) ?? 0;
  }

  /** Internal: noted by readers. */
  noteHead(topic: string, seq: number): void {
    if (seq > (this.#heads.get(topic) ?? 0)) this.#heads.set(topic, seq);
  }

  #gate(topic: string, p: Promise<unknown>): void {
    let set = this.#initGates.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#initGates.set(topic, set);
    }
    const s = set;
    s.add(p);
    p.finally(() => s.delete(p)).catch(() => {});
  }

  /** Internal: feeds a fan-out subscriber from the log, starting after the current head. */
  attachSubscriber(sub: FanoutSub<unknown>): void {
    this.#bus!.trackDurableSubscriber(sub);
    const reader = new LogReader(this, sub.topic, null, {
      capacity: () => (sub.isClosed ? -1 : sub.maxsize - sub.q.length),
      deliver: (msgs) => {
        for (const m of msgs) sub.offer(m, false);
      },
    });
    this.#start(reader, streamHead(this.kv, sub.topic));
  }

  /** Internal: feeds a consumer group from the log, from its committed offset. */
  attachGroup(group: Group, from: "earliest" | "latest"): void {
    const reader = new LogReader(this, group.topic, group.name, {
      capacity: () => (group.members.length === 0 ? -1 : group.free),
      deliver: (msgs) => {
        for (const m of msgs) group.offer(m, false);
      },
    });
    group.onAck = (msgs) => reader.ack(msgs);
    group.onRoom = () => reader.wake();
    group.onEmpty = () => void reader.stop();
    group.onCommit = () => reader.commitNow();
    group.lagOverride = () => Math.max(0, this.knownHead(group.topic) - reader.committed);
    const start = (async () => {
      const committed = await this.kv.get<number>(["bus", "offset", group.topic, group.name]);
      if (committed.value !== null) return committed.value;
      return from === "latest" ? await streamHead(this.kv, group.topic) : 0;
    })();
    this.#start(reader, start);
  }

  #start(reader: LogReader, position: Promise<number>): void {
    this.#readers.add(reader);
    this.#gate(reader.topic, position);
    reader.run(position).catch((err) => {
      console.error(
        `warning: durable reader for '${reader.topic}' stopped: ${err instanceof Error ? err.message : err}`,
      );
    }).finally(() => this.#readers.delete(reader));
  }

  /** Waits for queued appends and trims. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0 || this.#writing !== null || this.#scheduled) {
      if (this.#writing !== null) await this.#writing;
      else this.#startWrite();
      if (this.#writing === null && (this.#pending.size > 0 || this.#scheduled)) {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    await Promise.allSettled([...this.#trims]);
  }

  /** Flushes, stops readers (committing their offsets and releasing leases). */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await Promise.all([...this.#readers].map((r) => r.stop()));
  }
}

interface ReaderTarget {
  /** Room for more messages; negative means the target is gone. */
  capacity(): number;
  deliver(msgs: Msg[]): void;
}

/** Reads a topic's log for one subscriber or group. */
class LogReader {
  readonly topic: string;
  readonly group: string | null;
  readonly #store: DurableStore;
  readonly #target: ReaderTarget;
  #pos = 0;
  committed = 0;
  #lastCommitted = -1;
  #outstanding = new Ring<number>();
  #acked = new Set<number>();
  #wake: (() => void) | null = null;
  #stopped = false;
  #loop: Promise<void> | null = null;
  #commitTimer: ReturnType<typeof setTimeout> | null = null;
  #leaseHeld = false;
  #leaseTimer: ReturnType<typeof setInterval> | null = null;

  constructor(store: DurableStore, topic: string, group: string | null, target: ReaderTarget) {
    this.#store = store;
    this.topic = topic;
    this.group = group;
    this.#target = target;
  }

  wake(): void {
    const w = this.#wake;
    if (w !== null) {
      this.#wake = null;
      w();
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  run(position: Promise<number>): Promise<void> {
    this.#loop = this.#run(position);
    return this.#loop;
  }

  async #run(position: Promise<number>): Promise<void> {
    this.#pos = await position;
    this.committed = this.#pos;
    this.#lastCommitted = this.#pos;
    const kv = this.#store.kv;
    while (!this.#stopped) {
      if (this.group !== null && !this.#leaseHeld) {
        let acquired = false;
        try {
          acquired = await withKvRetry(() => this.#acquireLease());
        } catch (err) {
          if (this.#stopped) break;
          this.#warn(err);
        }
        if (!acquired) {
          await this.#sleep(LEASE_TTL_MS / 6);
          continue;
        }
      }
      const cap = this.#target.capacity();
      if (cap < 0) break;
      if (cap === 0) {
        await this.#sleep(1000);
        continue;
      }
      let page: StreamEntry[];
      try {
        page = await withKvRetry(() =>
          readStream(kv, this.topic, { after: this.#pos, limit: Math.min(cap, PAGE) })
        );
      } catch (err) {
        if (this.#stopped) break;
        this.#warn(err);
        await this.#sleep(500);
        continue;
      }
      if (this.#stopped) break;
      if (page.length === 0) {
        await this.#sleep(IDLE_POLL_MS);
        continue;
      }
      const msgs: Msg[] = new Array(page.length);
      for (let i = 0; i < page.length; i++) {
        const e = page[i];
        msgs[i] = new Msg(this.topic, e.seq, e.key ?? null, e.headers ?? null, e.ts, e.value, 1);
        if (this.group !== null) this.#outstanding.push(e.seq);
      }
      this.#pos = page[page.length - 1].seq;
      this.#store.noteHead(this.topic, this.#pos);
      this.#target.deliver(msgs);
    }
  }

  #warned = false;

  #warn(err: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    console.error(
      `warning: reading durable topic '${this.topic}' failed (${
        err instanceof Error ? err.message : err
      }); retrying`,
    );
  }

  /** Acknowledged messages: advance the committable offset past the acknowledged prefix. */
  ack(msgs: Msg[]): void {
    for (const m of msgs) this.#acked.add(m.seq);
    let head = this.#outstanding.peek();
    while (head !== undefined && this.#acked.has(head)) {
      this.#acked.delete(head);
      this.#outstanding.shift();
      this.committed = head;
      head = this.#outstanding.peek();
    }
    if (this.committed !== this.#lastCommitted && this.#commitTimer === null && !this.#stopped) {
      this.#commitTimer = setTimeout(() => {
        this.#commitTimer = null;
        void this.#commit();
      }, COMMIT_INTERVAL_MS);
    }
  }

  /** Commits the acknowledged prefix now (cancelling the pending timer). */
  async commitNow(): Promise<void> {
    if (this.#commitTimer !== null) {
      clearTimeout(this.#commitTimer);
      this.#commitTimer = null;
    }
    await this.#commit();
  }

  #commitChain: Promise<void> = Promise.resolve();

  /** Commits run one after another, so an older offset never overwrites a newer one. */
  #commit(): Promise<void> {
    this.#commitChain = this.#commitChain.then(() => this.#commitOnce());
    return this.#commitChain;
  }

  async #commitOnce(): Promise<void> {
    if (this.group === null || this.committed === this.#lastCommitted) return;
    const value = this.committed;
    try {
      await withKvRetry(() => this.#store.kv.set(["bus", "offset", this.topic, this.group!], value));
      this.#lastCommitted = value;
    } catch { /* the next ack retries */ }
  }

  async #acquireLease(): Promise<boolean> {
    const kv = this.#store.kv;
    const key = ["bus", "lease", this.topic, this.group!];
    const cur = await kv.get<{ owner: string; expires: number }>(key);
    const now = Date.now();
    if (cur.value !== null && cur.value.owner !== this.#store.owner && cur.value.expires > now) return false;
    const res = await kv.atomic().check(cur).set(key, {
      owner: this.#store.owner,
      expires: now + LEASE_TTL_MS,
    })
      .commit();
    if (!res.ok) return false;
    this.#leaseHeld = true;
    // Re-read the committed offset: the previous holder may have moved it.
    const committed = await committedOffset(kv, this.topic, this.group!);
    if (committed > this.#pos && this.#outstanding.length === 0) {
      this.#pos = committed;
      this.committed = committed;
      this.#lastCommitted = committed;
    }
    this.#leaseTimer = setInterval(() => void this.#renew(), LEASE_TTL_MS / 3);
    return true;
  }

  async #renew(): Promise<void> {
    if (this.#stopped) return;
    const kv = this.#store.kv;
    const key = ["bus", "lease", this.topic, this.group!];
    try {
      const cur = await kv.get<{ owner: string; expires: number }>(key);
      if (cur.value !== null && cur.value.owner !== this.#store.owner && cur.value.expires > Date.now()) {
        console.error(
          `warning: lost the lease of group '${this.group}' on '${this.topic}' to another process`,
        );
        this.#leaseHeld = false;
        if (this.#leaseTimer !== null) clearInterval(this.#leaseTimer);
        this.#leaseTimer = null;
        return;
      }
      await kv.atomic().check(cur).set(key, { owner: this.#store.owner, expires: Date.now() + LEASE_TTL_MS })
        .commit();
    } catch { /* KV closed at exit */ }
  }

  #stopping: Promise<void> | null = null;

  /**
   * Stops reading, commits the offset and releases the lease. Every caller gets the same promise, so a
   * second `stop()` (the store closing while the group's last member already stopped it) also waits for the
   * final commit instead of returning before it is written.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopOnce();
    return this.#stopping;
  }

  async #stopOnce(): Promise<void> {
    this.#stopped = true;
    this.wake();
    await this.#loop?.catch(() => {});
    if (this.#commitTimer !== null) clearTimeout(this.#commitTimer);
    this.#commitTimer = null;
    if (this.#leaseTimer !== null) clearInterval(this.#leaseTimer);
    this.#leaseTimer = null;
    if (this.group !== null && this.#leaseHeld) {
      await this.#commit();
      const kv = this.#store.kv;
      const key = ["bus", "lease", this.topic, this.group];
      try {
        const cur = await kv.get<{ owner: string }>(key);
        if (cur.value?.owner === this.#store.owner) await kv.atomic().check(cur).delete(key).commit();
      } catch { /* KV closed */ }
      this.#leaseHeld = false;
    }
  }
}

/**
 * `bus.consume`: runs a handler over a topic with a bounded number of messages in flight. A message is
 * acknowledged when its handler succeeds; a failure is retried with backoff up to `maxRetries` times and then
 * dead-lettered (reason `handler_failed`, with the attempts and the last error) and acknowledged, so a
 * poisoned message never stalls a group.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { BusHost, BusMessage, ConsumeOptions, Consumer, GroupMember, Subscription } from "./types.ts";

/** The delay before retry `attempt` (1-based). */
export function backoffDelay(backoff: ConsumeOptions["backoff"], attempt: number): number {
  if (typeof backoff === "function") return Math.max(0, backoff(attempt));
  const base = backoff ?? 100;
  return Math.min(30_000, base * 2 ** (attempt - 1));
}

/** Internal: starts a consumer on a LocalBus. */
export function startConsumer<T>(bus: BusHost, options: ConsumeOptions<T>): Consumer {
  const concurrency = options.concurrency ?? 1;
  const maxRetries = options.maxRetries ?? 3;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UserError(`consume: concurrency must be a whole number ≥ 1, got ${concurrency}`);
  }
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new UserError(`consume: maxRetries must be a whole number ≥ 0, got ${maxRetries}`);
  }
  const maxsize = Math.max(options.maxsize ?? 1000, concurrency);
  const group: GroupMember<T> | null = options.group !== undefined
    ? bus.subscribeGroup<T>(options.topic, options.group, { maxsize, ack: "manual" })
    : null;
  const member: Subscription<T> = group ?? bus.subscribe<T>(options.topic, { maxsize });
  const ack = (m: BusMessage<T>) => group?.ack(m);
  const stats = { handled: 0, failed: 0, retried: 0, deadLettered: 0 };
  const inflight = new Set<Promise<void>>();
  let stopping = false;
  const timers = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      timers.add(entry);
    });

  const handle = async (msg: BusMessage<T>): Promise<void> => {
    let attempt = 0;
    while (true) {
      attempt++;
      try {
        await options.handler(msg);
        stats.handled++;
        ack(msg);
        return;
      } catch (err) {
        stats.failed++;
        const error = err instanceof Error ? err.message : String(err);
        if (attempt > maxRetries) {
          stats.deadLettered++;
          bus.deadLetterRecord({
            topic: msg.topic,
            group: options.group ?? null,
            reason: "handler_failed",
            message: msg.value,
            message_id: msg.id,
            key: msg.key,
            attempts: attempt,
            error,
          });
          ack(msg);
          return;
        }
        if (!stopping) {
          stats.retried++;
          await sleep(backoffDelay(options.backoff, attempt));
        }
        if (stopping) {
          // Closing: give it back to the group (another member, or the log on restart) instead of retrying.
          group?.nack(msg);
          return;
        }
      }
    }
  };

  const loop = async () => {
    while (!stopping) {
      const room = concurrency - inflight.size;
      if (room <= 0) {
        await Promise.race(inflight);
        continue;
      }
      const batch = await member.nextBatch(room);
      if (batch.length === 0) break; // closed or interrupted by close()
      for (const msg of batch) {
        const p = handle(msg).finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }
    await Promise.allSettled([...inflight]);
  };

  const abort = () => void consumer.close();
  const done = loop().finally(() => {
    options.signal?.removeEventListener("abort", abort);
    member.close();
  });
  const consumer: Consumer = {
    stats,
    done,
    async close() {
      if (!stopping) {
        stopping = true;
        for (const t of timers) {
          clearTimeout(t.timer);
          t.resolve();
        }
        timers.clear();
        member.interrupt();
      }
      await done;
    },
  };
  if (options.signal?.aborted) void consumer.close();
  else options.signal?.addEventListener("abort", abort, { once: true });
  return consumer;
}

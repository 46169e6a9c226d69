/**
 * `bus.spawnGroup`: consumer-group members that run in Deno Workers. Each worker is paired with a group
 * member (manual acks) on the main thread; batches cross by structured clone. A message whose handler
 * threw is given back to the group (another attempt, possibly on another worker) and dead-lettered after
 * `maxRetries`; a worker that crashes (an uncaught error) or stops answering is terminated, its unacknowledged
 * messages go to the other members, and a replacement is started. `close()` waits until everything queued
 * and in flight is handled, then terminates the workers.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { BusHost, BusMessage, GroupMember, SpawnGroupOptions, WorkerGroup } from "./types.ts";

interface Slot {
  worker: Worker;
  member: GroupMember;
  inflight: BusMessage[] | null;
  reply: ((results: (string | null)[] | null) => void) | null;
  dead: boolean;
  loop: Promise<void>;
}

/** Internal: starts a worker group on a LocalBus. */
export function startWorkerGroup(
  bus: BusHost,
  topic: string,
  group: string,
  moduleUrl: string | URL,
  options: SpawnGroupOptions = {},
): WorkerGroup {
  const count = options.count ?? 2;
  const maxsize = options.maxsize ?? 1000;
  const batchSize = options.batch ?? 256;
  const maxRetries = options.maxRetries ?? 3;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!Number.isInteger(count) || count < 1) {
    throw new UserError(`spawnGroup: count must be ≥ 1, got ${count}`);
  }
  const url = moduleUrl instanceof URL ? moduleUrl.href : new URL(moduleUrl, `file://${Deno.cwd()}/`).href;
  const stats = { handled: 0, failed: 0, redelivered: 0, crashed: 0 };
  const slots = new Set<Slot>();
  let closing = false;
  let batchId = 0;
  let initError: string | null = null;
  const readies: Promise<boolean>[] = [];

  const start = (): Slot => {
    const worker = new Worker(new URL("./worker_host.ts", import.meta.url), { type: "module" });
    const member = bus.subscribeGroup(topic, group, { maxsize, ack: "manual", overflow: options.overflow });
    const slot: Slot = { worker, member, inflight: null, reply: null, dead: false, loop: Promise.resolve() };
    let ready: (ok: boolean) => void = () => {};
    const readyP = new Promise<boolean>((r) => (ready = r));
    worker.onmessage = (e: MessageEvent) => {
      const d = e.data;
      if (d.type === "ready") ready(true);
      else if (d.type === "init_error") {
        initError = d.error;
        ready(false);
      } else if (d.type === "done" && slot.reply) {
        const r = slot.reply;
        slot.reply = null;
        r(d.results);
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      crash(slot, e.message);
      ready(false);
    };
    worker.onmessageerror = () => crash(slot, "a message could not be deserialised");
    worker.postMessage({ type: "init", url });
    readies.push(readyP);
    slot.loop = (async () => {
      if (!(await readyP)) {
        crash(slot, initError ?? "worker failed to start");
        return;
      }
      await run(slot);
    })();
    slots.add(slot);
    return slot;
  };

  const crash = (slot: Slot, why: string) => {
    if (slot.dead) return;
    slot.dead = true;
    stats.crashed++;
    slot.worker.terminate();
    slots.delete(slot);
    if (slot.inflight) stats.redelivered += slot.inflight.length;
    // Closing the member gives its unacknowledged and queued messages to the other members.
    if (!closing && initError === null) start();
    slot.member.close();
    const r = slot.reply;
    slot.reply = null;
    r?.(null);
    if (initError !== null) {
      console.error(`warning: bus worker for ${topic}/${group} failed to start: ${initError}`);
    } else if (!closing) {
      console.error(`warning: bus worker for ${topic}/${group} crashed (${why}); restarted it`);
    }
  };

  const run = async (slot: Slot) => {
    while (!slot.dead && !closing) {
      const batch = await slot.member.nextBatch(batchSize);
      if (batch.length === 0 || slot.dead) break;
      slot.inflight = batch;
      const plain = batch.map((m) => ({
        id: m.id,
        topic: m.topic,
        seq: m.seq,
        key: m.key,
        headers: m.headers,
        ts: m.ts,
        value: m.value,
        attempt: m.attempt,
      }));
      const results = await new Promise<(string | null)[] | null>((resolve) => {
        const timer = setTimeout(() => {
          slot.reply = null;
          resolve(null);
          crash(slot, `no answer within ${timeoutMs} ms`);
        }, timeoutMs);
        slot.reply = (r) => {
          clearTimeout(timer);
          resolve(r);
        };
        slot.worker.postMessage({ type: "batch", id: ++batchId, msgs: plain });
      });
      if (results === null || slot.dead) return; // crashed: the member's close redelivered the batch
      slot.inflight = null;
      const ok: BusMessage[] = [];
      for (let i = 0; i < batch.length; i++) {
        const m = batch[i];
        const error = results[i];
        if (error === null) {
          ok.push(m);
          continue;
        }
        stats.failed++;
        if (m.attempt > maxRetries) {
          bus.deadLetterRecord({
            topic: m.topic,
            group,
            reason: "worker_failed",
            message: m.value,
            message_id: m.id,
            key: m.key,
            attempts: m.attempt,
            error,
          });
          ok.push(m);
        } else {
          slot.member.nack(m);
        }
      }
      stats.handled += ok.length;
      slot.member.ack(ok);
    }
  };

  for (let i = 0; i < count; i++) start();

  const idle = () => {
    const metrics = bus.metrics().groups[topic]?.[group];
    return metrics === undefined || metrics.lag === 0;
  };

  const ready = Promise.all(readies).then((oks) => {
    if (initError !== null || oks.some((ok) => !ok)) {
      throw new UserError(
        `bus workers for ${topic}/${group} could not start: ${initError ?? "a worker crashed"}`,
      );
    }
  });
  ready.catch(() => {}); // observed through `ready`

  return {
    ready,
    get size() {
      return slots.size;
    },
    stats,
    async close() {
      // Drain: wait until nothing is queued or in flight for the group.
      while (!idle() && slots.size > 0 && initError === null) await new Promise((r) => setTimeout(r, 5));
      closing = true;
      for (const slot of [...slots]) slot.member.interrupt();
      await Promise.all([...slots].map((s) => s.loop));
      for (const slot of [...slots]) {
        slot.member.close();
        slot.worker.terminate();
      }
      slots.clear();
    },
  };
}

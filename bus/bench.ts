/**
 * `bus bench`: measures, in one run, in-memory fan-out (1 publisher → 4 subscribers, deliveries/s), a
 * 4-member in-process group (msgs/s), a 4-member worker group, a durable topic with a committing group, and
 * as the ceiling a minimal in-process queue (array push/shift handing values to 4 readers); plus a slow
 * consumer with maxsize 1000 over 1M messages, reporting the publisher's peak RSS.
 *
 * @module
 */

import { DeadLetterSink } from "./dlq.ts";
import { DurableStore } from "./durable.ts";
import { LocalBus } from "./local_bus.ts";
import type { BusMessage, Subscription } from "./types.ts";

/** Options for {@link runBusBench}. */
export interface BusBenchOptions {
  /** Messages per in-memory case (default 2,000,000). */
  messages?: number;
  /** Messages for the worker group (default 500,000). */
  workerMessages?: number;
  /** Messages for the durable case (default 100,000). */
  durableMessages?: number;
  /** Messages for the memory case (default 1,000,000). */
  memoryMessages?: number;
  /** Progress lines on stderr. */
  log?: (line: string) => void;
}

/** The result object `bus bench --json` prints. */
export interface BusBenchResult {
  ceiling_array_queue: { deliveries_per_s: number; messages: number; readers: number };
  fanout: { deliveries_per_s: number; messages: number; subscribers: number; ratio_to_ceiling: number };
  group: { msgs_per_s: number; messages: number; members: number };
  worker_group: { msgs_per_s: number; messages: number; workers: number };
  durable: { msgs_per_s: number; messages: number; members: number; committed: number };
  slow_consumer_memory: {
    messages: number;
    maxsize: number;
    rss_start_mb: number;
    rss_peak_mb: number;
    rss_end_mb: number;
    heap_peak_mb: number;
  };
  machine: { cores: number; deno: string };
}

function memoryBus(): LocalBus {
  return new LocalBus({ workspace: null, dlq: new DeadLetterSink({ workspace: null }) });
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

/** The ceiling: arrays with push/shift, one per reader, handed values in chunks. */
async function ceiling(n: number, readers: number): Promise<number> {
  const queues: number[][] = Array.from({ length: readers }, () => []);
  let received = 0;
  const t0 = performance.now();
  const chunk = 1024;
  for (let sent = 0; sent < n;) {
    const end = Math.min(n, sent + chunk);
    for (; sent < end; sent++) for (let r = 0; r < readers; r++) queues[r].push(sent);
    await Promise.resolve();
    for (const q of queues) {
      while (q.length > 0) {
        q.shift();
        received++;
      }
    }
  }
  const ms = performance.now() - t0;
  if (received !== n * readers) throw new Error("ceiling lost values");
  return rate(received, ms);
}

async function drainAll<T>(subs: Subscription<T>[], expected: number): Promise<number> {
  let total = 0;
  await Promise.all(subs.map(async (s) => {
    while (true) {
      const b = await s.nextBatch(1024);
      if (b.length === 0) break;
      total += b.length;
      if (total >= expected) { for (const x of subs) x.close(); }
    }
  }));
  return total;
}

async function publishAll(bus: LocalBus, topic: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const w = bus.publish(topic, { i });
    if (w !== undefined) await w;
  }
}

/** Runs every case and returns the figures. */
export async function runBusBench(options: BusBenchOptions = {}): Promise<BusBenchResult> {
  const n = options.messages ?? 2_000_000;
  const log = options.log ?? (() => {});
  const result = {} as BusBenchResult;

  log("ceiling: array push/shift to 4 readers");
  const ceil = await ceiling(n, 4);
  result.ceiling_array_queue = { deliveries_per_s: ceil, messages: n, readers: 4 };

  log("fan-out: 1 publisher -> 4 subscribers");
  {
    const bus = memoryBus();
    const subs = Array.from(
      { length: 4 },
      () => bus.subscribe("bench.fanout", { maxsize: 1024, overflow: "block" }),
    );
    const t0 = performance.now();
    const drained = drainAll(subs, n * 4);
    await publishAll(bus, "bench.fanout", n);
    const got = await drained;
    const ms = performance.now() - t0;
    if (got !== n * 4) throw new Error(`fan-out delivered ${got}, expected ${n * 4}`);
    result.fanout = {
      deliveries_per_s: rate(got, ms),
      messages: n,
      subscribers: 4,
      ratio_to_ceiling: Math.round((rate(got, ms) / ceil) * 100) / 100,
    };
    await bus.close();
  }

  log("group: 4 in-process members");
  {
    const bus = memoryBus();
    const members = Array.from(
      { length: 4 },
      () => bus.subscribeGroup("bench.group", "g", { maxsize: 1024, overflow: "block" }),
    );
    const t0 = performance.now();
    const drained = drainAll(members, n);
    await publishAll(bus, "bench.group", n);
    const got = await drained;
    const ms = performance.now() - t0;
    if (got !== n) throw new Error(`group delivered ${got}, expected ${n}`);
    result.group = { msgs_per_s: rate(got, ms), messages: n, members: 4 };
    await bus.close();
  }

  log("worker group: 4 Deno Workers");
  {
    const wn = options.workerMessages ?? 500_000;
    const bus = memoryBus();
    const wg = bus.spawnGroup("bench.workers", "w", new URL("./bench_worker.ts", import.meta.url), {
      count: 4,
      maxsize: 2048,
      batch: 512,
      overflow: "block",
    });
    await wg.ready;
    const t0 = performance.now();
    await publishAll(bus, "bench.workers", wn);
    await wg.close();
    const ms = performance.now() - t0;
    if (wg.stats.handled !== wn) throw new Error(`worker group handled ${wg.stats.handled}, expected ${wn}`);
    result.worker_group = { msgs_per_s: rate(wn, ms), messages: wn, workers: 4 };
    await bus.close();
  }

  log("durable: KV-backed topic with a committing 4-member group");
  {
    const dn = options.durableMessages ?? 100_000;
    const dir = await Deno.makeTempDir({ prefix: "dspy-bus-bench-" });
    try {
      const dlq = new DeadLetterSink({ workspace: dir });
      const store = await DurableStore.open(dir, ["bench.durable"]);
      const bus = new LocalBus({ workspace: dir, dlq, durable: store });
      store.bind(bus);
      const members = Array.from(
        { length: 4 },
        () => bus.subscribeGroup("bench.durable", "g", { maxsize: 1024 }),
      );
      let handled = 0;
      const done = Promise.all(members.map(async (m) => {
        while (true) {
          const b = await m.nextBatch(1024);
          if (b.length === 0) break;
          handled += b.length;
          if (handled >= dn) {
            for (const x of members) x.interrupt();
          }
        }
      }));
      const t0 = performance.now();
      let last: Promise<void> | void = undefined;
      for (let i = 0; i < dn; i++) {
        last = bus.publish("bench.durable", { i });
        if (i % 5000 === 4999) await last;
      }
      await last;
      await done;
      // The last batch is acknowledged when members ask again; closing acks it and commits the offset.
      for (const m of members) m.close();
      await store.close();
      const ms = performance.now() - t0;
      const { committedOffset } = await import("./durable.ts");
      const committed = await committedOffset(store.kv, "bench.durable", "g");
      result.durable = { msgs_per_s: rate(dn, ms), messages: dn, members: 4, committed };
      await bus.close();
      store.kv.close();
    } finally {
      const { closeAllKv } = await import("../core/kv.ts");
      await closeAllKv();
      await Deno.remove(dir, { recursive: true });
    }
  }

  log(`slow consumer: maxsize 1000, ${options.memoryMessages ?? 1_000_000} messages`);
  {
    const mn = options.memoryMessages ?? 1_000_000;
    const bus = memoryBus();
    const sub = bus.subscribe<{ i: number; pad: string }>("bench.slow", { maxsize: 1000, overflow: "block" });
    const start = Deno.memoryUsage();
    let peakRss = start.rss;
    let peakHeap = start.heapUsed;
    let got = 0;
    let checksum = 0;
    const consumer = (async () => {
      while (got < mn) {
        const b: BusMessage<{ i: number; pad: string }>[] = await sub.nextBatch(50);
        for (const m of b) checksum += JSON.stringify(m.value).length; // slower than the publisher
        got += b.length;
        if (got % 50_000 < 50) {
          const mu = Deno.memoryUsage();
          peakRss = Math.max(peakRss, mu.rss);
          peakHeap = Math.max(peakHeap, mu.heapUsed);
        }
      }
    })();
    for (let i = 0; i < mn; i++) {
      const w = bus.publish("bench.slow", { i, pad: "x".repeat(64) });
      if (w !== undefined) await w;
    }
    await consumer;
    const end = Deno.memoryUsage();
    const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
    result.slow_consumer_memory = {
      messages: mn,
      maxsize: 1000,
      rss_start_mb: mb(start.rss),
      rss_peak_mb: mb(Math.max(peakRss, end.rss)),
      rss_end_mb: mb(end.rss),
      heap_peak_mb: mb(peakHeap),
    };
    if (checksum === 0) throw new Error("slow consumer saw nothing");
    await bus.close();
  }

  result.machine = { cores: navigator.hardwareConcurrency, deno: Deno.version.deno };
  return result;
}

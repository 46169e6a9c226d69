import { assert, assertEquals, assertRejects, assertThrows } from "./helpers.ts";
import { DeadLetterSink } from "../../bus/dlq.ts";
import { LocalBus } from "../../bus/local_bus.ts";
import {
  type BackpressureEvent,
  type BusMessage,
  type DeadLetterRecord,
  NotJsonError,
} from "../../bus/mod.ts";

function memoryBus(): LocalBus {
  let bus: LocalBus | null = null;
  const dlq = new DeadLetterSink({ workspace: null, onRecord: (r) => bus?.onDeadLetter(r) });
  bus = new LocalBus({ workspace: null, dlq });
  return bus;
}

async function drain<T>(
  sub: { nextBatch(n: number): Promise<BusMessage<T>[]>; size: number },
): Promise<BusMessage<T>[]> {
  const out: BusMessage<T>[] = [];
  while (sub.size > 0) out.push(...await sub.nextBatch(1000));
  return out;
}

Deno.test("fan-out: every subscriber gets every message, patterns match segments", async () => {
  const bus = memoryBus();
  const a = bus.subscribe("logs.ctx.backend");
  const b = bus.subscribe("logs.ctx.*");
  const c = bus.subscribe("logs.#");
  const d = bus.subscribe("logs.raw.*");
  for (let i = 0; i < 5; i++) await bus.publish("logs.ctx.backend", { i });
  await bus.publish("logs.ctx.frontend", { i: 99 });
  assertEquals((await drain(a)).map((m) => (m.value as { i: number }).i), [0, 1, 2, 3, 4]);
  assertEquals((await drain(b)).length, 6);
  assertEquals((await drain(c)).length, 6);
  assertEquals(d.size, 0);
  const [first] = await (async () => {
    await bus.publish("logs.ctx.backend", { i: 5 }, { key: "k1", headers: { h: "v" } });
    return await a.nextBatch(1);
  })();
  assertEquals(first.topic, "logs.ctx.backend");
  assertEquals(first.key, "k1");
  assertEquals(first.headers, { h: "v" });
  assertEquals(first.id, "logs.ctx.backend:6");
  await bus.close();
});

Deno.test("for await iterates and close() ends the iteration", async () => {
  const bus = memoryBus();
  const sub = bus.subscribe<{ n: number }>("t");
  const seen: number[] = [];
  const loop = (async () => {
    for await (const m of sub) {
      seen.push(m.value.n);
      if (seen.length === 3) sub.close();
    }
  })();
  for (let n = 0; n < 3; n++) await bus.publish("t", { n });
  await loop;
  assertEquals(seen, [0, 1, 2]);
  assert(sub.closed);
  await bus.close();
});

Deno.test("publish rejects values that are not JSON with a clear error", async () => {
  const bus = memoryBus();
  assertThrows(() => bus.publish("t", { f: () => 1 }), NotJsonError, "at f is a function");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assertThrows(() => bus.publish("t", cyclic), NotJsonError, "cycle");
  assertThrows(() => bus.publish("t", { n: NaN }), NotJsonError, "NaN");
  assertThrows(() => bus.publish("t", new Map()), NotJsonError, "Map");
  assertThrows(() => bus.publish("t", 10n), NotJsonError, "bigint");
  assertThrows(() => bus.publish("t", undefined), NotJsonError);
  assertThrows(() => bus.publish("bad topic", 1), Error, "invalid topic");
  assertEquals(bus.metrics().topics.t?.published ?? 0, 0);
  await bus.close();
});

Deno.test("group: each message reaches exactly one member; most free room wins, round-robin among ties", async () => {
  const bus = memoryBus();
  const m1 = bus.subscribeGroup("jobs", "g", { maxsize: 10 });
  const m2 = bus.subscribeGroup("jobs", "g", { maxsize: 10 });
  const m3 = bus.subscribeGroup("jobs", "g", { maxsize: 10 });
  for (let i = 0; i < 6; i++) await bus.publish("jobs", { i });
  // Ties rotate: 0→m1, 1→m2, 2→m3, 3→m1 ...
  assertEquals([m1.size, m2.size, m3.size], [2, 2, 2]);
  // m1 took its two; in auto mode they count against its room until it asks for more.
  const got = await m1.nextBatch(10);
  assertEquals(got.map((m) => (m.value as { i: number }).i), [0, 3]);
  const ids = new Set<string>();
  const all = [...got, ...await drain(m2), ...await drain(m3)];
  for (const m of all) ids.add(m.id);
  assertEquals(ids.size, 6);
  await bus.close();
});

Deno.test("group: a full member is skipped for one with room", async () => {
  const bus = memoryBus();
  const a = bus.subscribeGroup("jobs", "g", { maxsize: 5, ack: "manual" });
  const b = bus.subscribeGroup("jobs", "g", { maxsize: 5, ack: "manual" });
  for (let i = 0; i < 10; i++) await bus.publish("jobs", { i });
  assertEquals([a.size, b.size], [5, 5]);
  a.ack(await a.nextBatch(5)); // a has room again, b is full
  for (let i = 10; i < 15; i++) await bus.publish("jobs", { i });
  assertEquals([a.size, b.size], [5, 5]);
  assertEquals(bus.metrics().groups.jobs.g.dropped, 0);
  await bus.publish("jobs", { i: 15 }); // now every member is full: dead-lettered (policy dlq)
  assertEquals(bus.metrics().groups.jobs.g.dropped, 1);
  assertEquals(bus.metrics().dlq.total, 1);
  await bus.close();
});

Deno.test("group: a closed member's unacknowledged and queued messages go to the others", async () => {
  const bus = memoryBus();
  const a = bus.subscribeGroup("jobs", "g", { maxsize: 50, ack: "manual" });
  const b = bus.subscribeGroup("jobs", "g", { maxsize: 50, ack: "manual" });
  for (let i = 0; i < 20; i++) await bus.publish("jobs", { i });
  const taken = await a.nextBatch(3); // in flight, never acknowledged
  a.ack(taken[0]); // one is done
  a.close();
  const rest = await drain(b);
  const values = rest.map((m) => (m.value as { i: number }).i).sort((x, y) => x - y);
  // Everything except the acknowledged one reaches b; redelivered ones carry attempt 2 and the same id.
  assertEquals(values.length, 19);
  assert(!values.includes((taken[0].value as { i: number }).i));
  const again = rest.find((m) => m.id === taken[1].id)!;
  assertEquals(again.attempt, 2);
  b.ack(rest);
  const g = bus.metrics().groups.jobs.g;
  assertEquals(g.acked, 20);
  assertEquals(g.redelivered, 9);
  assertEquals(g.lag, 0);
  await bus.close();
});

Deno.test("overflow dlq: the subscriber's message is dead-lettered, the others still get it", async () => {
  const bus = memoryBus();
  const slow = bus.subscribe("t", { maxsize: 2 });
  const fast = bus.subscribe("t", { maxsize: 100 });
  const dead = bus.subscribe<DeadLetterRecord>("agent.deadletter", { maxsize: 100 });
  const bp = bus.subscribe<BackpressureEvent>("agent.backpressure");
  for (let i = 0; i < 5; i++) await bus.publish("t", { i });
  assertEquals(slow.size, 2);
  assertEquals(fast.size, 5);
  const records = await drain(dead);
  assertEquals(records.length, 3);
  assertEquals(records[0].value.reason, "backpressure_full:subscriber");
  assertEquals(records[0].value.message, { i: 2 });
  assertEquals(records[0].value.topic, "t");
  const events = await drain(bp);
  assertEquals(events.length, 1, "rate-limited: one event per second per topic and group");
  assertEquals(events[0].value.topic, "t");
  assertEquals(events[0].value.group, null);
  assertEquals(events[0].value.maxsize, 2);
  assertEquals(events[0].value.policy, "dlq");
  assertEquals(events[0].value.suppressed, 0);
  assertEquals(bus.metrics().dlq.total, 3);
  await bus.close();
});

Deno.test("overflow block: publish waits for room; drop-oldest keeps the newest", async () => {
  const bus = memoryBus();
  const blocking = bus.subscribe("t", { maxsize: 2, overflow: "block" });
  await bus.publish("t", 1);
  await bus.publish("t", 2);
  let done = false;
  const p = Promise.resolve(bus.publish("t", 3)).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(done, false);
  assertEquals((await blocking.nextBatch(1))[0].value, 1);
  await p;
  assertEquals((await drain(blocking)).map((m) => m.value), [2, 3]);
  blocking.close();

  const newest = bus.subscribe("u", { maxsize: 2, overflow: "drop-oldest" });
  for (let i = 1; i <= 5; i++) await bus.publish("u", i);
  assertEquals((await drain(newest)).map((m) => m.value), [4, 5]);
  assertEquals(bus.metrics().dlq.by_topic.u, 3);
  await bus.close();
});

Deno.test("a full agent.deadletter subscriber never blocks the publisher", async () => {
  const bus = memoryBus();
  bus.subscribe("t", { maxsize: 1 });
  const dead = bus.subscribe("agent.deadletter", { maxsize: 1, overflow: "block" });
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) {
    const w = bus.publish("t", { i });
    assertEquals(w, undefined);
  }
  assert(performance.now() - t0 < 2000);
  assertEquals(dead.size, 1);
  assertEquals(bus.metrics().dlq.total, 999);
  await bus.close();
});

Deno.test("accounting under overload: published × subscribers = delivered + dead-lettered, exactly", async () => {
  const bus = memoryBus();
  const subs = [1, 7, 50, 1000].map((maxsize, i) =>
    bus.subscribe("load", { maxsize, overflow: i === 2 ? "drop-oldest" : "dlq" })
  );
  const members = [3, 30].map((maxsize) => bus.subscribeGroup("load", "g", { maxsize }));
  const total = 20_000;
  const consumed = new Array(subs.length).fill(0);
  let groupConsumed = 0;
  for (let i = 0; i < total; i++) {
    bus.publish("load", { i });
    if (i % 97 === 0) {
      // Consumers take a little now and then (slower than the publisher).
      for (let s = 0; s < subs.length; s++) consumed[s] += (await subs[s].nextBatch(5)).length;
      for (const m of members) if (m.size > 0) groupConsumed += (await m.nextBatch(4)).length;
    }
  }
  for (let s = 0; s < subs.length; s++) consumed[s] += (await drain(subs[s])).length;
  for (const m of members) groupConsumed += (await drain(m)).length;
  const metrics = bus.metrics();
  const t = metrics.topics.load;
  assertEquals(t.published, total);
  const delivered = t.subscribers.reduce((a, s) => a + s.delivered, 0) + metrics.groups.load.g.delivered;
  const dead = t.subscribers.reduce((a, s) => a + s.dropped, 0) + metrics.groups.load.g.dropped;
  const receivers = subs.length + 1;
  assertEquals(delivered + dead, total * receivers);
  assertEquals(metrics.dlq.by_topic.load, dead);
  assertEquals(consumed.reduce((a, b) => a + b, 0) + groupConsumed, delivered);
  for (let s = 0; s < subs.length; s++) {
    assertEquals(t.subscribers[s].delivered + t.subscribers[s].dropped, total);
  }
  await bus.close();
});

Deno.test("consume: retries with backoff, then dead-letters and moves on", async () => {
  const bus = memoryBus();
  const seen = new Map<number, number>();
  const times: number[] = [];
  const consumer = bus.consume<{ i: number }>({
    topic: "jobs",
    group: "workers",
    concurrency: 2,
    maxRetries: 2,
    backoff: 5,
    handler: (m) => {
      seen.set(m.value.i, (seen.get(m.value.i) ?? 0) + 1);
      if (m.value.i === 3) {
        times.push(performance.now());
        throw new Error("cannot handle 3");
      }
    },
  });
  const dead = bus.subscribe<DeadLetterRecord>("agent.deadletter");
  for (let i = 0; i < 10; i++) await bus.publish("jobs", { i });
  const [rec] = await dead.nextBatch(1);
  assertEquals(rec.value.reason, "handler_failed");
  assertEquals(rec.value.attempts, 3);
  assertEquals(rec.value.error, "cannot handle 3");
  assertEquals(rec.value.group, "workers");
  while (consumer.stats.handled < 9) await new Promise((r) => setTimeout(r, 2));
  assertEquals(seen.get(3), 3);
  // Exponential backoff: at least 5 ms before the first retry and 10 ms before the second. Lower bounds
  // only: a loaded machine can delay a timer, never fire it early (1 ms of timer granularity allowed).
  assert(times[1] - times[0] >= 4, `first retry waited ${times[1] - times[0]} ms, expected >= 5`);
  assert(times[2] - times[1] >= 9, `second retry waited ${times[2] - times[1]} ms, expected >= 10`);
  assertEquals(consumer.stats.deadLettered, 1);
  const g = bus.metrics().groups.jobs.workers;
  assertEquals(g.acked, 10);
  await consumer.close();
  await bus.close();
});

Deno.test("bad options fail clearly", async () => {
  const bus = memoryBus();
  assertThrows(() => bus.subscribe("t", { maxsize: 0 }), Error, "maxsize");
  assertThrows(() => bus.subscribe("t", { overflow: "spill" as "dlq" }), Error, "overflow policy");
  assertThrows(() => bus.subscribeGroup("t.*", "g"), Error, "concrete topic");
  await assertRejects(() => bus.configureTopic("t", { durable: true }), Error, "without a workspace");
  await bus.close();
});

Deno.test("topic patterns: * is one segment, # any number (also none)", async () => {
  const { compilePattern } = await import("../../bus/pattern.ts");
  const cases: [string, string, boolean][] = [
    ["logs.ctx.*", "logs.ctx.backend", true],
    ["logs.ctx.*", "logs.ctx", false],
    ["logs.ctx.*", "logs.ctx.a.b", false],
    ["agent.#", "agent", true],
    ["agent.#", "agent.metrics", true],
    ["agent.#", "agent.rl.vectorized", true],
    ["#.errors", "errors", true],
    ["#.errors", "agent.errors", true],
    ["#.errors", "agent.errors.x", false],
    ["a.*.c", "a.b.c", true],
    ["a.#.c", "a.c", true],
    ["a.#.c", "a.x.y.c", true],
    ["a.#.c", "a.x.y", false],
  ];
  for (const [pattern, topic, expected] of cases) {
    assertEquals(compilePattern(pattern)(topic), expected, `${pattern} vs ${topic}`);
  }
  assertThrows(() => compilePattern("a.b*"), Error, "invalid topic pattern");
});

Deno.test("patternRegExp (Kafka subscriptions) matches exactly the topics compilePattern matches", async () => {
  const { compilePattern, patternRegExp } = await import("../../bus/pattern.ts");
  // Every topic of 1-4 segments over {a, b, c} against every pattern of 1-4 segments over {a, *, #, **}.
  const words = (alphabet: string[], max: number): string[] => {
    const out: string[] = [];
    const grow = (prefix: string[]) => {
      if (prefix.length > 0) out.push(prefix.join("."));
      if (prefix.length < max) { for (const s of alphabet) grow([...prefix, s]); }
    };
    grow([]);
    return out;
  };
  const topics = words(["a", "b", "c"], 4);
  let compared = 0;
  for (const pattern of words(["a", "*", "#", "**"], 4)) {
    const matches = compilePattern(pattern);
    const re = patternRegExp(pattern, "dev.");
    for (const topic of topics) {
      assertEquals(re.test(`dev.${topic}`), matches(topic), `${pattern} vs dev.${topic} (${re})`);
      assertEquals(re.test(topic), false, `${pattern} must require the prefix (${re})`);
      compared++;
    }
  }
  assert(compared > 30_000);
  assertEquals(patternRegExp("logs.ctx.*").test("logs.ctx.backend"), true);
  assertThrows(() => patternRegExp("a.*", "dev prefix"), Error, "KAFKA_TOPIC_PREFIX");
  assertThrows(() => patternRegExp("a.b*"), Error, "invalid topic pattern");
});

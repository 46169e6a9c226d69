import { DeadLetterSink } from "../../bus/dlq.ts";
import { LocalBus } from "../../bus/local_bus.ts";
import { committedOffset, startBus } from "../../bus/mod.ts";
import type { DeadLetterRecord } from "../../bus/mod.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import { UserError } from "../../core/errors.ts";
import { assert, assertEquals, assertRejects, waitFor, withWorkspace } from "./helpers.ts";

function memoryBus(): LocalBus {
  let bus: LocalBus | null = null;
  const dlq = new DeadLetterSink({ workspace: null, onRecord: (r) => bus?.onDeadLetter(r) });
  bus = new LocalBus({ workspace: null, dlq });
  return bus;
}

const WORKER = new URL("./fixtures/record_worker.ts", import.meta.url);

Deno.test("worker group: every message is handled once by one of the workers", async () => {
  const bus = memoryBus();
  const wg = bus.spawnGroup("jobs", "w", WORKER, { count: 3, batch: 16, maxsize: 64, overflow: "block" });
  await wg.ready;
  assertEquals(wg.size, 3);
  for (let i = 0; i < 2000; i++) {
    const w = bus.publish("jobs", { i });
    if (w) await w;
  }
  await wg.close();
  assertEquals(wg.stats.handled, 2000);
  assertEquals(wg.stats.crashed, 0);
  const g = bus.metrics().groups.jobs?.w;
  assertEquals(g, undefined, "members left the group after close");
  await bus.close();
});

Deno.test("worker group: a handler that throws is retried, then dead-lettered; none lost", async () => {
  const bus = memoryBus();
  const dead = bus.subscribe<DeadLetterRecord>("agent.deadletter");
  const wg = bus.spawnGroup("jobs", "w", WORKER, { count: 2, batch: 8, maxRetries: 2 });
  await wg.ready;
  for (let i = 0; i < 100; i++) await bus.publish("jobs", { i, fail: i === 42 });
  await wg.close();
  assertEquals(wg.stats.handled, 100); // 99 handled + 1 settled by dead-lettering
  assertEquals(wg.stats.failed, 3);
  const [rec] = await dead.nextBatch(5);
  assertEquals(rec.value.reason, "worker_failed");
  assertEquals(rec.value.message, { i: 42, fail: true });
  assertEquals(rec.value.attempts, 3);
  assertEquals(rec.value.error, "refused 42");
  await bus.close();
});

Deno.test("worker group: a crashed worker's messages are redelivered to the others, none lost", async () => {
  const bus = memoryBus();
  const wg = bus.spawnGroup("jobs", "w", WORKER, { count: 2, batch: 10, maxRetries: 5 });
  await wg.ready;
  const crashOnce = { i: 7, crash: true };
  await bus.publish("jobs", crashOnce);
  for (let i = 100; i < 400; i++) await bus.publish("jobs", { i });
  // The crash message crashes whichever worker takes it; it is redelivered with a growing attempt count and
  // finally dead-lettered by the redelivery limit, while the rest of each crashed batch goes to the others.
  const origConsole = console.error;
  console.error = () => {};
  try {
    await wg.close();
  } finally {
    console.error = origConsole;
  }
  assert(wg.stats.crashed >= 1, "a worker crashed");
  assert(wg.stats.redelivered >= 1, "its batch was redelivered");
  const g = bus.metrics();
  // Every ordinary message was handled despite the crashes.
  assert(wg.stats.handled >= 300, `handled ${wg.stats.handled}`);
  assertEquals(g.dlq.by_topic.jobs, 1, "only the poisoned message is dead-lettered");
  await bus.close();
});

Deno.test("worker group: a module without handle() fails clearly", async () => {
  const bus = memoryBus();
  const origConsole = console.error;
  console.error = () => {};
  try {
    const wg = bus.spawnGroup("jobs", "w", new URL("./fixtures/no_handle_worker.ts", import.meta.url), {
      count: 1,
    });
    await assertRejects(() => wg.ready, UserError, "does not export a function 'handle(message)'");
    await wg.close();
  } finally {
    console.error = origConsole;
  }
  await bus.close();
});

Deno.test("worker group: a worker that terminates silently is detected by the batch timeout", async () => {
  const bus = memoryBus();
  const origConsole = console.error;
  console.error = () => {};
  try {
    const wg = bus.spawnGroup("jobs", "w", WORKER, { count: 2, batch: 5, timeoutMs: 300 });
    await wg.ready;
    await bus.publish("jobs", { i: 0, exit: true });
    for (let i = 1; i < 50; i++) await bus.publish("jobs", { i });
    await wg.close();
    assertEquals(wg.stats.handled, 50, "the exited worker's batch was redelivered and handled");
    assertEquals(wg.stats.crashed, 1);
    assertEquals(bus.metrics().dlq.total, 0);
  } finally {
    console.error = origConsole;
  }
  await bus.close();
});

Deno.test("worker group on a durable topic commits the group's offset", async () => {
  await withWorkspace(async (dir) => {
    const bus = await startBus({ workspace: dir, metricsIntervalSec: 0, routeEvents: false });
    await bus.configureTopic("djobs", { durable: true });
    for (let i = 0; i < 300; i++) bus.publish("djobs", { i });
    await bus.flush();
    const wg = bus.spawnGroup("djobs", "w", WORKER, { count: 2, batch: 32 });
    await wg.ready;
    await waitFor(() => wg.stats.handled === 300, 20_000, "workers");
    await wg.close();
    await bus.close();
    const kv = await openWorkspaceKv(dir);
    assertEquals(await committedOffset(kv, "djobs", "w"), 300);
  });
});

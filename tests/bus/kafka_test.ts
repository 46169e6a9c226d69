import { KafkaBus } from "../../bus/kafka/bus.ts";
import { listDeadLetters, startBus, tailKafka } from "../../bus/mod.ts";
import type { BusMessage, DeadLetterRecord, GroupMember } from "../../bus/mod.ts";
import { UserError } from "../../core/errors.ts";
import { runDspy } from "../support/cli.ts";
import { configureEvents, emitMetric, flushEvents } from "../../core/events.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import { readStream } from "../../core/streams.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  hasKcat,
  kafkaGroupLag,
  startMockKafka,
  waitFor,
  withWorkspace,
} from "./helpers.ts";

const kcat = hasKcat();

Deno.test({
  name: "kafka: primary backend, mirror mode, broker down, tail (librdkafka mock cluster via kcat)",
  ignore: !kcat,
  // kafkajs keeps sockets and timers alive briefly after disconnect.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const kafka = await startMockKafka();
    try {
      await t.step(
        "primary: groups get each message once, offsets committed after ack, fan-out, keys",
        async () => {
          await withWorkspace(async (dir) => {
            const bus = await startBus({
              workspace: dir,
              backend: "kafka",
              kafka: { bootstrap: kafka.bootstrap, prefix: "t1." },
              metricsIntervalSec: 0,
              routeEvents: false,
            }) as KafkaBus;
            assertEquals(bus.backend, "kafka");
            const member = bus.subscribeGroup<{ n: number }>("orders", "billing", { ack: "manual" });
            const watcher = bus.subscribe<{ n: number }>("orders");
            await bus.whenReady();
            for (let n = 0; n < 20; n++) {
              await bus.publish("orders", { n }, { key: `k${n % 2}`, headers: { h: "x" } });
            }
            const got: BusMessage<{ n: number }>[] = [];
            while (got.length < 20) {
              got.push(...await member.nextBatch(20));
            }
            assertEquals(
              got.map((m) => m.value.n).sort((a, b) => a - b),
              Array.from({ length: 20 }, (_, i) => i),
            );
            assertEquals(got[0].key, "k0");
            assertEquals(got[0].headers, { h: "x" });
            assert(/^orders:\d+:\d+$/.test(got[0].id), got[0].id); // topic:partition:offset
            member.ack(got.slice(0, 10)); // only the first ten delivered are done (a prefix of each partition)
            const unacked = got.slice(10).map((m) => m.value.n).sort((a, b) => a - b);
            const seen: BusMessage[] = [];
            while (seen.length < 20) seen.push(...await watcher.nextBatch(20));
            assertEquals(seen.length, 20);
            await new Promise((r) => setTimeout(r, 300));
            member.close();
            await bus.close();

            // The group resumes after the committed offsets: exactly the unacknowledged ten come again.
            const again = await startBus({
              workspace: dir,
              backend: "kafka",
              kafka: { bootstrap: kafka.bootstrap, prefix: "t1." },
              metricsIntervalSec: 0,
              routeEvents: false,
            }) as KafkaBus;
            const m2 = again.subscribeGroup<{ n: number }>("orders", "billing");
            const rest: BusMessage<{ n: number }>[] = [];
            while (rest.length < 10) rest.push(...await m2.nextBatch(20));
            assertEquals(rest.map((m) => m.value.n).sort((a, b) => a - b), unacked);
            m2.ack(rest);
            await again.close();
          });
        },
      );

      await t.step(
        "primary: consume retries, then dead-letters locally and to agent.deadletter",
        async () => {
          await withWorkspace(async (dir) => {
            const bus = await startBus({
              workspace: dir,
              backend: "kafka",
              kafka: { bootstrap: kafka.bootstrap, prefix: "t2." },
              metricsIntervalSec: 0,
            }) as KafkaBus;
            const deadTopic = bus.subscribe<DeadLetterRecord>("agent.deadletter");
            const c = bus.consume<{ n: number }>({
              topic: "jobs",
              group: "workers",
              maxRetries: 1,
              backoff: 1,
              handler: (m) => {
                if (m.value.n === 1) throw new Error("bad job");
              },
            });
            await bus.whenReady();
            for (let n = 0; n < 3; n++) await bus.publish("jobs", { n });
            await waitFor(() => c.stats.handled === 2 && c.stats.deadLettered === 1, 30_000, "consumer");
            const [rec] = await deadTopic.nextBatch(1);
            assertEquals(rec.value.reason, "handler_failed");
            assertEquals(rec.value.message, { n: 1 });
            await c.close();
            // Agent events reach Kafka and the KV streams `tail` reads.
            configureEvents({ workspace: dir });
            emitMetric("kafka.check", { ok: true });
            await flushEvents();
            await bus.close();
            const kv = await openWorkspaceKv(dir);
            const metrics = await readStream<{ metric: string }>(kv, "agent.metrics");
            assertEquals(metrics.at(-1)?.value.metric, "kafka.check");
            const stored = await listDeadLetters(dir);
            assertEquals(stored.length, 1);
            assertEquals(stored[0].error, "bad job");
          });
        },
      );

      await t.step("mirror: the LocalBus stays primary and every message is produced to Kafka", async () => {
        await withWorkspace(async (dir) => {
          const bus = await startBus({
            workspace: dir,
            backend: "mirror",
            kafka: { bootstrap: kafka.bootstrap, prefix: "t3." },
            metricsIntervalSec: 0,
            routeEvents: false,
          });
          assertEquals(bus.backend, "mirror");
          const local = bus.subscribe("logs.ctx.backend");
          for (let i = 0; i < 5; i++) await bus.publish("logs.ctx.backend", { i }, { key: "b" });
          assertEquals(local.size, 5);
          await bus.flush();
          const received: unknown[] = [];
          const abort = new AbortController();
          const tail = tailKafka({
            stream: "logs.ctx.backend",
            bootstrap: kafka.bootstrap,
            prefix: "t3.",
            fromBeginning: true,
            signal: abort.signal,
            onMessage: (value, meta) => {
              received.push(value);
              assertEquals(meta.key, "b");
              if (received.length === 5) abort.abort();
            },
          });
          await waitFor(() => received.length === 5, 30_000, "mirrored messages");
          await tail;
          assertEquals(received, [0, 1, 2, 3, 4].map((i) => ({ i })));
          assertEquals((await listDeadLetters(dir)).length, 0);
          await bus.close();
        });
      });
      await t.step("primary: pattern subscriptions match existing topics exactly", async () => {
        const bus = await startBus({
          workspace: null,
          backend: "kafka",
          kafka: { bootstrap: kafka.bootstrap, prefix: "t5." },
          metricsIntervalSec: 0,
        }) as KafkaBus;
        // kafkajs resolves a pattern against the topics that exist when it subscribes.
        for (const topic of ["logs.ctx.backend", "logs.ctx.frontend", "logs.raw.backend"]) {
          await bus.publish(topic, { warmup: true });
        }
        const sub = bus.subscribe<{ n: number }>("logs.ctx.*");
        await bus.whenReady();
        await new Promise((r) => setTimeout(r, 500));
        await bus.publish("logs.raw.backend", { n: 0 });
        await bus.publish("logs.ctx.backend", { n: 1 });
        await bus.publish("logs.ctx.frontend", { n: 2 });
        const got: BusMessage<{ n: number }>[] = [];
        while (got.length < 2) got.push(...await sub.nextBatch(10));
        assertEquals(got.map((m) => m.value.n).sort(), [1, 2]);
        assertEquals(got.map((m) => m.topic).sort(), ["logs.ctx.backend", "logs.ctx.frontend"]);
        await bus.close();
      });

      await t.step(
        "primary: a member whose queue is full keeps its partitions when another joins; nothing is lost",
        async () => {
          const open = () =>
            startBus({
              workspace: null,
              backend: "kafka",
              kafka: { bootstrap: kafka.bootstrap, prefix: "t6." },
              metricsIntervalSec: 0,
              routeEvents: false,
            }) as Promise<KafkaBus>;
          const partitionOf = (m: BusMessage) => Number(m.id.split(":")[1]);
          const n = 40;
          const done = new Set<number>();
          /** Reads and acknowledges until interrupted; returns the partitions it got records from. */
          const read = async (member: GroupMember<{ n: number }>) => {
            const parts = new Set<number>();
            for (;;) {
              const batch = await member.nextBatch(100);
              if (batch.length === 0) return parts;
              for (const m of batch) {
                parts.add(partitionOf(m));
                done.add(m.value.n);
              }
              member.ack(batch);
            }
          };
          const bus1 = await open();
          const m1 = bus1.subscribeGroup<{ n: number }>("work", "full", { ack: "manual", maxsize: 4 });
          await bus1.whenReady();
          for (let i = 0; i < n; i++) await bus1.publish("work", { n: i }, { key: `k${i}` });
          // The first member reads nothing yet: its queue fills and its batch waits for room.
          await waitFor(() => m1.size === 4, 20_000, "the first member's queue to fill");
          const bus2 = await open();
          const m2 = bus2.subscribeGroup<{ n: number }>("work", "full", { ack: "manual" });
          const reading2 = read(m2);
          await waitFor(() => done.size > 0, 20_000, "the second member's first records");
          // Longer than a session timeout (6 s) plus a rebalance (5 s on the mock cluster): a member that
          // waited for room without heartbeating is dropped from the group by then, and the second member
          // holds every partition.
          await new Promise((r) => setTimeout(r, 9_000));
          m2.interrupt();
          const parts2 = await reading2;
          assert(parts2.size < 4, `the second member holds every partition (${[...parts2]}): the first left`);
          const reading1 = read(m1);
          const reading2b = read(m2);
          await waitFor(() => done.size === n, 30_000, `every record (${done.size} of ${n})`);
          m1.interrupt();
          m2.interrupt();
          const parts1 = await reading1;
          await reading2b;
          assert(
            parts1.size > 0 && parts1.size < 4,
            `the first member kept some partitions (${[...parts1]})`,
          );
          // Everything acknowledged is committed: the group has no lag left.
          await m1.commit();
          await m2.commit();
          assertEquals(await kafkaGroupLag(kafka.bootstrap, "full", "t6.work"), 0);
          await bus2.close();
          await bus1.close();
        },
      );

      await t.step("CLI: bus publish / consume over Kafka (KAFKA_BOOTSTRAP_SERVERS)", async () => {
        await withWorkspace(async (dir) => {
          const env = { KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap, KAFKA_TOPIC_PREFIX: "t4." };
          let r = await runDspy(
            ["--workspace", dir, "bus", "publish", "cli.jobs", "--key", "a", '{"job":1}'],
            { env },
          );
          assertEquals(r.code, 0, r.stderr);
          assertEquals(r.stdout.trim(), "published 1 message to cli.jobs");
          // kafkajs' negative-timer warning (kafkajs#1751) is not shown to users.
          assert(!r.stderr.includes("TimeoutNegativeWarning"), r.stderr);
          r = await runDspy([
            "--workspace",
            dir,
            "bus",
            "consume",
            "cli.jobs",
            "--group",
            "cli",
            "--max",
            "1",
          ], { env });
          assertEquals(r.code, 0, r.stderr);
          assert(!r.stderr.includes("TimeoutNegativeWarning"), r.stderr);
          const line = JSON.parse(r.stdout);
          assertEquals(line.value, { job: 1 });
          assertEquals(line.key, "a");
          assertEquals(line.id, `cli.jobs:${line.id.split(":")[1]}:0`);
        });
      });
    } finally {
      await kafka.stop();
    }

    await t.step(
      "broker down: primary mode says so and fails; mirror keeps working and dead-letters",
      async () => {
        await withWorkspace(async (dir) => {
          // The mock cluster is gone: nothing listens on its port any more.
          await assertRejects(
            () =>
              startBus({
                workspace: dir,
                backend: "kafka",
                kafka: { bootstrap: kafka.bootstrap },
                metricsIntervalSec: 0,
                routeEvents: false,
              }),
            UserError,
            `cannot reach Kafka at ${kafka.bootstrap}`,
          );
          const cli = await runDspy(["--workspace", dir, "bus", "publish", "jobs", "1"], {
            env: { DSPY_BUS: "kafka", KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap },
          });
          assertEquals(cli.code, 1);
          assert(cli.stderr.includes(`cannot reach Kafka at ${kafka.bootstrap}`), cli.stderr);
          assert(cli.stderr.includes("DSPY_BUS=mirror"), "says what to do");
          const warnings: string[] = [];
          const orig = console.error;
          console.error = (...a: unknown[]) => void warnings.push(a.join(" "));
          try {
            const bus = await startBus({
              workspace: dir,
              backend: "mirror",
              kafka: { bootstrap: kafka.bootstrap },
              metricsIntervalSec: 0,
              routeEvents: false,
            });
            const sub = bus.subscribe("jobs");
            for (let i = 0; i < 3; i++) await bus.publish("jobs", { i });
            assertEquals(sub.size, 3, "the local bus keeps working");
            await waitFor(() => warnings.some((w) => w.includes("cannot reach Kafka")), 15_000, "warning");
            await bus.close();
          } finally {
            console.error = orig;
          }
          const dead = await listDeadLetters(dir, { topic: "jobs" });
          assertEquals(dead.length, 3, "undeliverable mirrored messages are dead-lettered, not lost");
          assert(dead[0].reason.startsWith("kafka_error"), dead[0].reason);
        });
      },
    );
  },
});

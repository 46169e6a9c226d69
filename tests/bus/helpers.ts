/**
 * Shared helpers for the bus tests: small assertion wrappers over `node:assert/strict`, temp workspaces, and
 * the Kafka protocol peer (librdkafka's mock cluster inside Debian's `kcat`).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";
import { closeAllKv } from "../../core/kv.ts";

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, message?: string): asserts cond {
  nodeAssert.ok(cond, message ?? "assertion failed");
}

/** Deep strict equality. */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  if (message === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, message);
}

function checkError(err: unknown, cls: abstract new (...a: never[]) => Error, includes?: string): void {
  nodeAssert.ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
  if (includes !== undefined) {
    nodeAssert.ok(
      (err as Error).message.includes(includes),
      `"${(err as Error).message}" lacks "${includes}"`,
    );
  }
}

/** Fails unless `fn` throws an instance of `cls` whose message includes `includes`. */
export function assertThrows(
  fn: () => unknown,
  cls: abstract new (...a: never[]) => Error,
  includes?: string,
): void {
  try {
    fn();
  } catch (err) {
    checkError(err, cls, includes);
    return;
  }
  nodeAssert.fail("expected an exception");
}

/** Async twin of {@link assertThrows}. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: abstract new (...a: never[]) => Error,
  includes?: string,
): Promise<void> {
  try {
    await fn();
  } catch (err) {
    checkError(err, cls, includes);
    return;
  }
  nodeAssert.fail("expected a rejection");
}

/** Runs `fn` with a fresh temp workspace, closing KV and removing the folder afterwards. */
export async function withWorkspace(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dspy-bus-test-" });
  try {
    await fn(dir);
  } finally {
    await closeAllKv();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Polls `cond` until true or the timeout passes. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when Debian's kcat (with librdkafka's mock cluster) is installed. */
export function hasKcat(): boolean {
  try {
    return new Deno.Command("kcat", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** A running mock Kafka cluster. */
export interface MockKafka {
  bootstrap: string;
  stop(): Promise<void>;
}

/**
 * Starts librdkafka's mock cluster through `kcat -P ... -X test.mock.num.brokers=1` (kept alive by an open
 * stdin) and reads `bootstrap.servers=HOST:PORT` from its debug log.
 */
export async function startMockKafka(): Promise<MockKafka> {
  const child = new Deno.Command("kcat", {
    args: ["-P", "-t", "warmup", "-b", "localhost:9092", "-X", "test.mock.num.brokers=1", "-d", "mock"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let bootstrap: string | null = null;
  const deadline = Date.now() + 15_000;
  while (bootstrap === null) {
    if (Date.now() > deadline) throw new Error(`kcat mock cluster did not start: ${log.slice(0, 500)}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`kcat exited: ${log.slice(0, 500)}`);
    log += value;
    const m = log.match(/bootstrap\.servers=([0-9.]+:\d+)/);
    if (m) bootstrap = m[1];
  }
  // Keep draining stderr so kcat never blocks on a full pipe.
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  return {
    bootstrap,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.stdin.close().catch(() => {});
      await child.status;
      await drain;
    },
  };
}

/** One partition of a Kafka topic, as a consumer group sees it. */
export interface GroupPartition {
  partition: number;
  /** The group's committed offset (the partition's start when the group has committed nothing). */
  committed: number;
  /** The end offset (the next offset to be written). */
  end: number;
}

/** Where a consumer group stands on each partition of one Kafka topic, from the broker. */
export async function kafkaGroupOffsets(
  bootstrap: string,
  group: string,
  topic: string,
): Promise<GroupPartition[]> {
  const { Kafka, logLevel } = await import("kafkajs");
  const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const at = new Map<number, number>();
    for (const p of committed?.partitions ?? []) {
      if (Number(p.offset) >= 0) at.set(p.partition, Number(p.offset));
    }
    return ends.map((p) => ({
      partition: p.partition,
      committed: at.get(p.partition) ?? Number(p.low),
      end: Number(p.high),
    })).sort((x, y) => x.partition - y.partition);
  } finally {
    await admin.disconnect();
  }
}

/** A consumer group's lag on one Kafka topic: end minus committed offsets, summed over partitions. */
export async function kafkaGroupLag(bootstrap: string, group: string, topic: string): Promise<number> {
  const parts = await kafkaGroupOffsets(bootstrap, group, topic);
  return parts.reduce((sum, p) => sum + Math.max(0, p.end - p.committed), 0);
}

/**
 * What the durable-topic benchmarks share (`embed_bench.ts`, `embed_stages_bench.ts`, `kv_list_bench.ts`): a
 * quiet local bus, input records published the way `embed ingest` publishes them, and a group member that
 * drains a topic.
 *
 * @module
 */

import { join } from "node:path";
import { type Bus, type BusMessage, startBus } from "../bus/mod.ts";
import { ingestPath } from "../embeddings/mod.ts";

/** A local bus on `workspace` without the metrics writer and the event routing (their work is not measured). */
export function benchBus(workspace: string): Promise<Bus> {
  return startBus({ workspace, backend: "local", metricsIntervalSec: 0, routeEvents: false });
}

/**
 * Writes `n` input records `{text: textOf(i), doc_id: "d<i>"}` to `<workspace>/in.jsonl` and publishes them on
 * `topic` with `embed ingest`'s code (a durable topic, keyed by doc_id).
 */
export async function ingestRecords(
  workspace: string,
  topic: string,
  n: number,
  textOf: (i: number) => string,
): Promise<void> {
  const file = join(workspace, "in.jsonl");
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ text: textOf(i), doc_id: `d${i}` }));
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  const bus = await benchBus(workspace);
  try {
    await ingestPath(file, { bus, topic });
  } finally {
    await bus.close();
  }
}

/** Options for {@link drainGroup}. */
export interface DrainOptions {
  /** The member's queue (default 2,000 messages). */
  maxsize?: number;
  /**
   * Await a commit after every batch (a plain at-least-once consumer, fsync-bound). Otherwise batches are
   * only acknowledged and the group commits in the background every 20 ms.
   */
  commitEachBatch?: boolean;
  /** Work on each batch before it is acknowledged. */
  handle?: (batch: BusMessage<Record<string, string>>[]) => Promise<void>;
}

/** Takes `n` messages of `topic` from the start as a member of `group`, 64 at a time; returns how many. */
export async function drainGroup(
  bus: Bus,
  topic: string,
  group: string,
  n: number,
  options: DrainOptions = {},
): Promise<number> {
  const member = bus.subscribeGroup<Record<string, string>>(topic, group, {
    ack: "manual",
    maxsize: options.maxsize ?? 2000,
    from: "earliest",
  });
  try {
    let got = 0;
    while (got < n) {
      const batch = await member.nextBatch(64);
      got += batch.length;
      await options.handle?.(batch);
      member.ack(batch);
      if (options.commitEachBatch) await member.commit();
    }
    return got;
  } finally {
    member.close();
  }
}

/**
 * A Kafka consumer group's lag on one topic, from the broker (end offsets minus the group's committed
 * offsets, summed over partitions). The embed worker asks it before `--exit-when-idle` stops the worker:
 * a member that has no partitions yet (a rebalance in progress, a member killed a moment ago still holding
 * its partitions until its session times out) has nothing to do *now*, but the group does, so it waits.
 * kafkajs is imported lazily; the admin client is created once and closed with {@link KafkaLagProbe.close}.
 *
 * @module
 */

import type { KafkaSettings } from "../bus/mod.ts";

/** A reusable probe. */
export interface KafkaLagProbe {
  /** Messages of `topic` past the group's committed offsets (partitions without a commit count from 0). */
  lag(topic: string, group: string): Promise<number>;
  close(): Promise<void>;
}

/** Creates a probe for the brokers in `settings` (topic names get the settings' prefix). */
export async function createKafkaLagProbe(settings: KafkaSettings): Promise<KafkaLagProbe> {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({
    clientId: `${settings.clientId}-lag`,
    brokers: settings.bootstrap.split(",").map((s) => s.trim()).filter(Boolean),
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  let connected: Promise<void> | null = null;
  return {
    async lag(topic, group) {
      connected ??= admin.connect();
      await connected;
      const name = settings.prefix + topic;
      const ends = await admin.fetchTopicOffsets(name);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [name] });
      const at = new Map<number, number>();
      for (const p of committed?.partitions ?? []) at.set(p.partition, Math.max(0, Number(p.offset)));
      let lag = 0;
      for (const p of ends) lag += Math.max(0, Number(p.high) - (at.get(p.partition) ?? Number(p.low)));
      return lag;
    },
    async close() {
      if (connected) await admin.disconnect().catch(() => {});
    },
  };
}

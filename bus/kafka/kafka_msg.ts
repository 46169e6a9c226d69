/**
 * The bus message read from Kafka ({@link KafkaMsg}): its id includes the partition
 * (`TOPIC:PARTITION:OFFSET`), and it carries the epoch of its partition in the group member that fetched it,
 * so an acknowledgement that arrives after the partition moved cannot move offsets that are no longer the
 * member's (bus/kafka/group_consumer.ts).
 *
 * @module
 */

import type { KafkaMessage } from "kafkajs";
import { Msg } from "../message.ts";
import { decodeMessage } from "./wire.ts";

/** A message read from Kafka. */
export class KafkaMsg<T = unknown> extends Msg<T> {
  readonly partition: number;
  /** Its partition's epoch in the group member that fetched it (0 for fan-out subscribers). */
  readonly epoch: number;
  constructor(
    topic: string,
    partition: number,
    offset: number,
    key: string | null,
    headers: Record<string, string> | null,
    ts: number,
    value: T,
    attempt: number,
    epoch = 0,
  ) {
    super(topic, offset, key, headers, ts, value, attempt);
    this.partition = partition;
    this.epoch = epoch;
  }
  override get id(): string {
    return `${this.topic}:${this.partition}:${this.seq}`;
  }
  override retry(): Msg<T> {
    return new KafkaMsg(
      this.topic,
      this.partition,
      this.seq,
      this.key,
      this.headers,
      this.ts,
      this.value,
      this.attempt + 1,
      this.epoch,
    );
  }
  /** A kafkajs message read from `topic` (without the prefix) and `partition`, as a bus message. */
  static from(topic: string, partition: number, message: KafkaMessage, epoch = 0): KafkaMsg {
    const d = decodeMessage(message);
    return new KafkaMsg(topic, partition, d.offset, d.key, d.headers, d.ts, d.value, 1, epoch);
  }
}

/**
 * The message object the LocalBus hands to subscribers. One object is shared by every fan-out subscriber
 * of a publish; a group redelivery gets a copy with a higher `attempt` and the same id.
 *
 * @module
 */

import type { BusMessage } from "./types.ts";

/** A delivered message; `id` is derived from topic and sequence, so it is stable across redeliveries. */
export class Msg<T = unknown> implements BusMessage<T> {
  readonly topic: string;
  readonly seq: number;
  readonly key: string | null;
  readonly headers: Record<string, string> | null;
  readonly ts: number;
  readonly value: T;
  readonly attempt: number;

  constructor(
    topic: string,
    seq: number,
    key: string | null,
    headers: Record<string, string> | null,
    ts: number,
    value: T,
    attempt: number,
  ) {
    this.topic = topic;
    this.seq = seq;
    this.key = key;
    this.headers = headers;
    this.ts = ts;
    this.value = value;
    this.attempt = attempt;
  }

  /** `TOPIC:SEQ`. */
  get id(): string {
    return `${this.topic}:${this.seq}`;
  }

  /** The same message with the attempt counter raised (for redelivery). */
  retry(): Msg<T> {
    return new Msg(this.topic, this.seq, this.key, this.headers, this.ts, this.value, this.attempt + 1);
  }

  /** A plain object (structured-clone and JSON friendly). */
  toJSON(): BusMessage<T> {
    return {
      id: this.id,
      topic: this.topic,
      seq: this.seq,
      key: this.key,
      headers: this.headers,
      ts: this.ts,
      value: this.value,
      attempt: this.attempt,
    };
  }
}

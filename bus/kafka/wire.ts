/**
 * The wire format of bus messages on Kafka: the value is JSON text, the key a string or null, headers are
 * strings. {@link toWire} encodes for the producer; {@link decodeMessage} is the one place a kafkajs message
 * is decoded (the Kafka bus's subscribers and groups, and the tail).
 *
 * @module
 */

import type { KafkaMessage } from "kafkajs";

/** A message as handed to the kafkajs producer. */
export interface WireMessage {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
}

/** Encodes a bus message for the producer. */
export function toWire(
  value: unknown,
  key: string | null,
  headers: Record<string, string> | null,
): WireMessage {
  const m: WireMessage = { key, value: JSON.stringify(value) };
  if (headers) m.headers = headers;
  return m;
}

/** A kafkajs message decoded. */
export interface DecodedMessage {
  /** The partition offset (kafkajs gives it as a decimal string). */
  offset: number;
  key: string | null;
  /** String headers, or null when there are none. */
  headers: Record<string, string> | null;
  /** Milliseconds since the epoch (the broker's or producer's timestamp). */
  ts: number;
  /** The JSON value; text that is not JSON is passed on as the string; an empty value is null. */
  value: unknown;
}

const decoder = new TextDecoder();

/** Decodes a kafkajs message. */
export function decodeMessage(message: KafkaMessage): DecodedMessage {
  return {
    offset: Number(message.offset),
    key: message.key ? decoder.decode(message.key) : null,
    headers: decodeHeaders(message.headers as Record<string, unknown> | undefined),
    ts: Number(message.timestamp),
    value: decodeValue(message.value),
  };
}

function decodeValue(buf: Uint8Array | null): unknown {
  if (buf === null) return null;
  const text = decoder.decode(buf);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function decodeHeaders(h: Record<string, unknown> | undefined): Record<string, string> | null {
  if (!h) return null;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? String(v[0]) : typeof v === "string" ? v : decoder.decode(v as Uint8Array);
    any = true;
  }
  return any ? out : null;
}

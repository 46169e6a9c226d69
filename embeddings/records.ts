/**
 * The pipeline's record schemas, as the old tool's workers wrote them. Input records on `embedding_input`:
 * `{text, doc_id|id|document_id|key?, topic?, kafka_ts?}` (a bare string is a text); a record without an id
 * gets `sha256(text)`. Output records on `embeddings`:
 * `{topic, text, doc_id, vector, kafka_ts, embedded_ts, model, dim, normalized}` (timestamps in seconds).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A valid input record. */
export interface InputRecord {
  text: string;
  doc_id: string;
  /** Source topic, when a producer (the Spark job) recorded it. */
  topic: string | null;
  /** Source timestamp in seconds, when recorded. */
  kafka_ts: number | null;
}

/** An output record on `embeddings`. */
export interface OutputRecord {
  topic: string;
  text: string;
  doc_id: string;
  vector: number[];
  kafka_ts: number;
  embedded_ts: number;
  model: string;
  dim: number;
  normalized: boolean;
}

/** Hex SHA-256 of a text. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

const ID_FIELDS = ["doc_id", "id", "document_id", "key"];

/** Parses an input value; a string explains why it is not a record. */
export function parseInputRecord(value: unknown): InputRecord | string {
  if (typeof value === "string") {
    return value.trim() === ""
      ? "empty text"
      : { text: value, doc_id: sha256Hex(value), topic: null, kafka_ts: null };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `not a record: expected {"text": ...}, got ${Array.isArray(value) ? "a list" : typeof value}`;
  }
  const v = value as Record<string, unknown>;
  if (typeof v.text !== "string" || v.text.trim() === "") {
    return `no "text" (a non-empty string) in the record`;
  }
  let docId: string | undefined;
  for (const f of ID_FIELDS) {
    const x = v[f];
    if (typeof x === "string" && x !== "") {
      docId = x;
      break;
    }
    if (typeof x === "number" && Number.isFinite(x)) {
      docId = String(x);
      break;
    }
  }
  return {
    text: v.text,
    doc_id: docId ?? sha256Hex(v.text),
    topic: typeof v.topic === "string" ? v.topic : null,
    kafka_ts: typeof v.kafka_ts === "number" && Number.isFinite(v.kafka_ts) ? v.kafka_ts : null,
  };
}

/** Rounds a vector for JSON (7 significant digits is what Float32 holds). */
export function vectorToJson(v: Float32Array): number[] {
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.fround(v[i]);
  return out;
}

/**
 * Length limits for names that become Deno KV key parts (topic names, consumer group names, dead-letter
 * ids). A KV key holds at most 2 KiB in total, and an over-long name used to surface as
 * `Key too large for write (max 2049 bytes)` (CLI) or a 500 (server). The limits below leave room for the
 * other key parts (`["bus", "offset", topic, group]` is the longest key), and the check runs at the edges —
 * the server's routes, `DurableStore`, the DLQ functions — with a message naming the limit. The error is a
 * {@link UsageError}: exit 2 on the CLI, 400 from the server.
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";

/** Longest topic name, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 512;
/** Longest consumer group name, in UTF-8 bytes. */
export const MAX_GROUP_BYTES = 512;
/** Longest dead-letter id, in UTF-8 bytes (ids dspy-code makes are 30 characters). */
export const MAX_DLQ_ID_BYTES = 128;

/** A name over its limit (or empty). */
export class NameLimitError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = "NameLimitError";
  }
}

const encoder = new TextEncoder();

function check(kind: string, value: string, max: number): string {
  if (typeof value !== "string" || value === "") throw new NameLimitError(`${kind} must not be empty`);
  // A UTF-8 character is at most 4 bytes: short names skip the encoding.
  const bytes = value.length * 4 <= max ? value.length : encoder.encode(value).byteLength;
  if (bytes > max) {
    throw new NameLimitError(
      `${kind} is ${bytes} bytes long; ${kind}s may be at most ${max} bytes (UTF-8): use a shorter one ` +
        `('${value.slice(0, 40)}…')`,
    );
  }
  return value;
}

/** Returns `topic`, or throws {@link NameLimitError} when it is empty or over {@link MAX_TOPIC_BYTES}. */
export function checkTopicName(topic: string): string {
  return check("topic name", topic, MAX_TOPIC_BYTES);
}

/** Returns `group`, or throws {@link NameLimitError} when it is empty or over {@link MAX_GROUP_BYTES}. */
export function checkGroupName(group: string): string {
  return check("group name", group, MAX_GROUP_BYTES);
}

/** Returns `id`, or throws {@link NameLimitError} when it is empty or over {@link MAX_DLQ_ID_BYTES}. */
export function checkDeadLetterId(id: string): string {
  return check("dead-letter id", id, MAX_DLQ_ID_BYTES);
}

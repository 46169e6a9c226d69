/**
 * Topic names and patterns. Topics are dot-separated (`logs.ctx.backend`); in a pattern `*` matches exactly
 * one segment and `#` (or `**`) matches any number of segments, including none (`agent.#`).
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";

const TOPIC_RE = /^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$/;
const PATTERN_SEGMENT_RE = /^([A-Za-z0-9_\-]+|\*|#|\*\*)$/;

/** True when the string contains pattern wildcards. */
export function isPattern(topic: string): boolean {
  return topic.includes("*") || topic.includes("#");
}

/** Throws a UsageError unless `topic` is a valid topic name. */
export function assertTopic(topic: string): void {
  if (typeof topic !== "string" || !TOPIC_RE.test(topic)) {
    throw new UsageError(
      `invalid topic '${topic}': use dot-separated names of letters, digits, '_' or '-' (e.g. logs.ctx.backend)`,
    );
  }
}

/** Compiles a pattern (or a plain topic) to a matcher. */
export function compilePattern(pattern: string): (topic: string) => boolean {
  const segments = pattern.split(".");
  if (segments.some((s) => !PATTERN_SEGMENT_RE.test(s))) {
    throw new UsageError(
      `invalid topic pattern '${pattern}': segments are names, '*' (one segment) or '#' (any number of segments)`,
    );
  }
  if (!isPattern(pattern)) return (t) => t === pattern;
  return (t) => matchSegments(segments, 0, t.split("."), 0);
}

function matchSegments(pat: string[], i: number, topic: string[], j: number): boolean {
  while (i < pat.length) {
    const p = pat[i];
    if (p === "#" || p === "**") {
      // Any number of segments (including none): try every split.
      for (let k = j; k <= topic.length; k++) if (matchSegments(pat, i + 1, topic, k)) return true;
      return false;
    }
    if (j >= topic.length || (p !== "*" && p !== topic[j])) return false;
    i++;
    j++;
  }
  return j === topic.length;
}

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

const KAFKA_NAME_RE = /^[A-Za-z0-9._\-]*$/;

/**
 * The regular expression that matches exactly the names `prefix + topic` of the topics a pattern matches,
 * for brokers that select topics by regular expression (the Kafka backend subscribes with it). Topic
 * segments hold no regex syntax (see {@link assertTopic}); the prefix may hold only what a Kafka topic name
 * may (letters, digits, `.`, `_`, `-`).
 */
export function patternRegExp(pattern: string, prefix = ""): RegExp {
  compilePattern(pattern); // validates
  if (!KAFKA_NAME_RE.test(prefix)) {
    throw new UsageError(
      `invalid topic prefix '${prefix}': Kafka topic names hold only letters, digits, '.', '_' and '-'; ` +
        `fix KAFKA_TOPIC_PREFIX`,
    );
  }
  const segments = pattern.split(".").map((s) => (s === "**" ? "#" : s))
    .filter((s, i, all) => !(s === "#" && all[i - 1] === "#")); // `#.#` is `#`
  const one = "[^.]+";
  let body = "";
  let started = false; // a segment was emitted, so the next one starts with a dot
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s !== "#") {
      body += (started ? "\\." : "") + (s === "*" ? one : s);
      started = true;
    } else if (started) {
      body += `(?:\\.${one})*`; // any number of further segments
    } else if (i < segments.length - 1) {
      body += `(?:${one}\\.)*`; // leading segments, each with its dot; the next segment needs none
    } else {
      body += `${one}(?:\\.${one})*`; // `#` alone: any topic
      started = true;
    }
  }
  return new RegExp(`^${prefix.replaceAll(".", "\\.")}${body}$`);
}

/**
 * Cheap validation that a message is a JSON value, so `publish` rejects what could never be stored or sent
 * (functions, symbols, bigints, cycles, NaN, class instances such as Map or Date) with a clear error instead of
 * failing later in a consumer, the DLQ or Kafka. It walks the value once without building a string.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";

/** Thrown by `publish` for a message that is not a JSON value. */
export class NotJsonError extends UserError {
  constructor(topic: string, path: string, what: string) {
    super(
      `cannot publish on '${topic}': the message ${
        path === "" ? "" : `at ${path} `
      }is ${what}, which is not ` +
        `JSON; send plain objects, arrays, strings, finite numbers, booleans or null`,
    );
    this.name = "NotJsonError";
  }
}

/** Throws {@link NotJsonError} unless `value` is a JSON value. */
export function assertJsonValue(topic: string, value: unknown): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new NotJsonError(topic, "", String(value));
      return;
    case "object":
      if (value === null) return;
      walk(topic, value as object, [], "");
      return;
    default:
      throw new NotJsonError(topic, "", describe(value));
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return "a bigint";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "number") return String(value);
  const name = (value as object)?.constructor?.name;
  return name ? `a ${name}` : "not a plain object";
}

function walk(topic: string, obj: object, ancestors: object[], path: string): void {
  if (ancestors.length > 200) throw new NotJsonError(topic, path, "nested more than 200 levels deep");
  if (ancestors.includes(obj)) throw new NotJsonError(topic, path, "a reference to itself (a cycle)");
  ancestors.push(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) check(topic, obj[i], ancestors, `${path}[${i}]`, true);
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw new NotJsonError(topic, path, describe(obj));
    for (const k in obj) {
      check(topic, (obj as Record<string, unknown>)[k], ancestors, path ? `${path}.${k}` : k, false);
    }
  }
  ancestors.pop();
}

function check(topic: string, v: unknown, ancestors: object[], path: string, inArray: boolean): void {
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(v)) throw new NotJsonError(topic, path, String(v));
      return;
    case "object":
      if (v !== null) walk(topic, v, ancestors, path);
      return;
    case "undefined":
      if (inArray) throw new NotJsonError(topic, path, "undefined");
      return; // JSON.stringify omits undefined properties, as expected for optional fields
    default:
      throw new NotJsonError(topic, path, describe(v));
  }
}

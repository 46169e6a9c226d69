/**
 * Our cron parser and next-fire function against hand-checked times, and its refusals (each naming the
 * problem and the expected form).
 *
 * @module
 */

import assert from "node:assert/strict";
import { CronSyntaxError, nextFire, parseCron } from "../../experiments/mod.ts";

const at = (s: string) => new Date(s);
const next = (expr: string, from: string) => nextFire(expr, at(from))?.toISOString();

Deno.test("cron: next fire times", () => {
  assert.equal(next("* * * * *", "2026-01-01T00:00:30Z"), "2026-01-01T00:01:00.000Z");
  assert.equal(next("* * * * *", "2026-01-01T00:00:00Z"), "2026-01-01T00:01:00.000Z");
  assert.equal(next("0 3 * * *", "2026-01-01T04:00:00Z"), "2026-01-02T03:00:00.000Z");
  assert.equal(next("0 3 * * *", "2026-01-01T02:59:00Z"), "2026-01-01T03:00:00.000Z");
  assert.equal(next("*/15 * * * *", "2026-01-01T10:16:00Z"), "2026-01-01T10:30:00.000Z");
  assert.equal(next("30 2 * * mon-fri", "2026-01-03T00:00:00Z"), "2026-01-05T02:30:00.000Z"); // Sat -> Mon
  assert.equal(next("0 0 1 jan *", "2026-03-01T00:00:00Z"), "2027-01-01T00:00:00.000Z");
  assert.equal(next("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z"); // leap day
  assert.equal(next("0 12 * * 7", "2026-01-01T00:00:00Z"), "2026-01-04T12:00:00.000Z"); // 7 = Sunday
  assert.equal(next("5-10/5 1,2 * * *", "2026-01-01T01:06:00Z"), "2026-01-01T01:10:00.000Z");
  assert.equal(next("0 0 13 * 5", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00.000Z"); // dom OR dow
  assert.equal(next("0 0 31 * *", "2026-02-01T00:00:00Z"), "2026-03-31T00:00:00.000Z");
  assert.equal(next("10/20 * * * *", "2026-01-01T00:11:00Z"), "2026-01-01T00:30:00.000Z");
  assert.equal(parseCron("  0   3 * *  * ").source, "0 3 * * *");
});

Deno.test("cron: invalid expressions say why and show the expected form", () => {
  const bad: [string, RegExp][] = [
    ["", /got 0 field/],
    ["* * * *", /got 4 field/],
    ["* * * * * *", /got 6 field/],
    ["60 * * * *", /minute 60 is outside 0-59/],
    ["* 24 * * *", /hour 24/],
    ["* * 0 * *", /day of month 0/],
    ["* * * 13 *", /month 13/],
    ["* * * * 8", /day of week 8/],
    ["*/0 * * * *", /step '0'/],
    ["5-1 * * * *", /runs backwards/],
    ["a * * * *", /'a' is not a number/],
    ["1,,2 * * * *", /empty list item/],
    ["0 0 30 2 *", /no date ever matches/],
    ["@daily", /got 1 field/],
  ];
  for (const [expr, re] of bad) {
    assert.throws(() => parseCron(expr), (err: Error) => {
      assert.ok(err instanceof CronSyntaxError, expr);
      assert.match(err.message, re, expr);
      assert.match(err.message, /expected 5 fields/);
      return true;
    });
  }
});

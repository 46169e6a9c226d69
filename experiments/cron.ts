/**
 * Our own reading of 5-field cron expressions (the form `Deno.cron` accepts), so a schedule can be
 * validated before it is stored and its next fire time shown by `experiments schedule list`.
 *
 * Fields, in order: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day of week
 * (0-7 or sun-sat; 0 and 7 are Sunday). Each field is `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n`
 * or `a/n` (from `a` to the field's end), or a comma list of those. Times are UTC, as in `Deno.cron`.
 * When both day of month and day of week are restricted, a day matching **either** fires (classic cron).
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";

/** What a valid expression looks like; quoted in every error. */
export const CRON_FORM =
  'expected 5 fields "MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK" in UTC, e.g. "0 3 * * *" (03:00 daily), ' +
  '"*/15 * * * *" (every 15 minutes) or "30 2 * * mon-fri"';

/** An expression that is not valid cron; a usage error (exit 2, HTTP 400). */
export class CronSyntaxError extends UsageError {
  constructor(expr: string, why: string) {
    super(`invalid cron expression "${expr}": ${why}; ${CRON_FORM}`);
    this.name = "CronSyntaxError";
  }
}

/** A parsed expression: the allowed values of each field. */
export interface CronSpec {
  source: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Day of month was `*` (then only the weekday restricts days). */
  anyDay: boolean;
  /** Day of week was `*`. */
  anyWeekday: boolean;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0] (1 for months). */
  nameBase?: number;
}

const FIELDS: FieldDef[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: "day of week", min: 0, max: 7, names: WEEKDAYS, nameBase: 0 },
];

function parseValue(expr: string, def: FieldDef, raw: string): number {
  const lower = raw.toLowerCase();
  if (def.names) {
    const i = def.names.indexOf(lower);
    if (i >= 0) return i + (def.nameBase ?? 0);
  }
  if (!/^\d{1,2}$/.test(raw)) {
    throw new CronSyntaxError(
      expr,
      `'${raw}' is not a number${def.names ? " or name" : ""} in the ${def.name} field`,
    );
  }
  const n = Number(raw);
  if (n < def.min || n > def.max) {
    throw new CronSyntaxError(expr, `${def.name} ${n} is outside ${def.min}-${def.max}`);
  }
  return n;
}

function parseField(expr: string, def: FieldDef, field: string): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    if (part === "") throw new CronSyntaxError(expr, `empty list item in the ${def.name} field`);
    const [range, stepRaw, extra] = part.split("/");
    if (extra !== undefined) throw new CronSyntaxError(expr, `'${part}' has two steps`);
    let step = 1;
    if (stepRaw !== undefined) {
      if (!/^\d{1,2}$/.test(stepRaw) || Number(stepRaw) === 0) {
        throw new CronSyntaxError(expr, `step '${stepRaw}' in the ${def.name} field must be a number from 1`);
      }
      step = Number(stepRaw);
    }
    let lo: number;
    let hi: number;
    if (range === "*") {
      lo = def.min;
      hi = def.max === 7 ? 6 : def.max;
    } else if (range.includes("-")) {
      const [a, b, more] = range.split("-");
      if (more !== undefined || a === "" || b === "") {
        throw new CronSyntaxError(expr, `'${range}' is not a range a-b in the ${def.name} field`);
      }
      lo = parseValue(expr, def, a);
      hi = parseValue(expr, def, b);
      if (lo > hi) throw new CronSyntaxError(expr, `range ${range} in the ${def.name} field runs backwards`);
    } else {
      lo = parseValue(expr, def, range);
      hi = stepRaw !== undefined ? (def.max === 7 ? 6 : def.max) : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(def.max === 7 && v === 7 ? 0 : v);
  }
  return out;
}

/**
 * Parses and validates an expression. Also refuses expressions that can never fire (`0 0 30 2 *`).
 *
 * @throws CronSyntaxError with the expected form
 */
export function parseCron(expr: string): CronSpec {
  if (typeof expr !== "string") throw new CronSyntaxError(String(expr), "not a string");
  const fields = expr.trim().split(/\s+/);
  if (expr.trim() === "" || fields.length !== 5) {
    throw new CronSyntaxError(expr, `got ${expr.trim() === "" ? 0 : fields.length} field(s)`);
  }
  const [minutes, hours, days, months, weekdays] = fields.map((f, i) => parseField(expr, FIELDS[i], f));
  const spec: CronSpec = {
    source: fields.join(" "),
    minutes,
    hours,
    days,
    months,
    weekdays,
    anyDay: fields[2] === "*",
    anyWeekday: fields[4] === "*",
  };
  if (nextFire(spec, new Date(Date.UTC(2000, 0, 1))) === null) {
    throw new CronSyntaxError(expr, "no date ever matches it");
  }
  return spec;
}

function dayMatches(spec: CronSpec, t: Date): boolean {
  const dom = spec.days.has(t.getUTCDate());
  const dow = spec.weekdays.has(t.getUTCDay());
  if (spec.anyDay && spec.anyWeekday) return true;
  if (spec.anyDay) return dow;
  if (spec.anyWeekday) return dom;
  return dom || dow;
}

/**
 * The first fire time strictly after `after` (UTC, whole minutes), or null when none comes within 8 years.
 *
 * @example
 * ```ts
 * nextFire(parseCron("0 3 * * *"), new Date("2026-01-01T04:00:00Z")); // 2026-01-02T03:00:00Z
 * ```
 */
export function nextFire(spec: CronSpec | string, after: Date = new Date()): Date | null {
  const s = typeof spec === "string" ? parseCron(spec) : spec;
  const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  const limit = after.getTime() + 8 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(s, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!s.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!s.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t;
  }
  return null;
}

/**
 * Named schedules that start experiments on a cron expression (`experiments schedule ...`,
 * `/api/experiments/schedules`). Records live in KV (`["experiments", "schedule", name]`); the process
 * running `up`/`quickstart` calls {@link startScheduler}, which registers each schedule with `Deno.cron`
 * and, every `syncMs`, registers schedules added or changed since (by any process) and unregisters removed
 * ones. A `Deno.cron` job is named after the schedule **and** its expression, and its handler re-reads the
 * record when it fires: a paused, removed or re-timed schedule does nothing, so the record in KV is always
 * the truth even where a job could not be unregistered.
 *
 * {@link fireSchedule} (a firing, or `schedule run NAME`) creates an experiment with
 * `trigger: "cron:<name>"`, unless the schedule's previous experiment is still queued or running: then
 * the firing is skipped and recorded as skipped.
 *
 * @module
 */

import { UsageError, UserError } from "../core/errors.ts";
import { openWorkspaceKv, withKvRetry } from "../core/kv.ts";
import { nextFire, parseCron } from "./cron.ts";
import { specFromArgs } from "./params.ts";
import { confinePath } from "./paths.ts";
import { experimentRunner } from "./runner.ts";
import { createExperiment, getExperiment, nextQueued } from "./store.ts";
import { type ExperimentSpec, isTerminal, type ScheduleFiring, type ScheduleRecord } from "./types.ts";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_FIRINGS = 20;

/** No schedule with that name (HTTP 404). */
export class ScheduleNotFoundError extends UserError {
  /** HTTP status. */
  readonly status = 404;
  constructor(name: string) {
    super(`no schedule '${name}': 'dspy-code experiments schedule list' shows them`);
    this.name = "ScheduleNotFoundError";
  }
}

function key(name: string): Deno.KvKey {
  return ["experiments", "schedule", name];
}

/** Checks a schedule name (letters, digits, `_ . -`; up to 64). */
export function checkScheduleName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new UsageError(
      `schedule name must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit), got ${
        JSON.stringify(name)
      }`,
    );
  }
  return name;
}

/** Checks the paths a spec names against the workspace. */
export async function confineSpec(workspace: string, spec: ExperimentSpec): Promise<ExperimentSpec> {
  if (spec.kind === "rl") return spec;
  const params = { ...spec.params };
  params.dataset_path = await confinePath(workspace, params.dataset_path, { label: "dataset_path" });
  if (spec.kind === "embed" && spec.params.model_path) {
    (params as typeof spec.params).model_path = await confinePath(workspace, spec.params.model_path, {
      label: "model_path",
      expect: "dir",
    });
  }
  if (spec.kind === "sweep" && spec.params.backend === "local") {
    const models: string[] = [];
    for (const m of spec.params.models) {
      models.push(await confinePath(workspace, m, { label: "model folder", expect: "dir" }));
    }
    (params as typeof spec.params).models = models;
  }
  return { kind: spec.kind, params } as ExperimentSpec;
}

/** Adds or replaces a schedule. `args` is the command line after `--` (`run embed --dataset ...`). */
export async function addSchedule(
  workspace: string,
  input: { name: string; cron: string; args: string[]; replace?: boolean },
): Promise<ScheduleRecord> {
  const name = checkScheduleName(input.name);
  const cron = parseCron(input.cron).source;
  if (
    !Array.isArray(input.args) || input.args.length === 0 || !input.args.every((a) => typeof a === "string")
  ) {
    throw new UsageError(
      "a schedule needs the experiment to run after '--', e.g. -- run embed --dataset data/q.jsonl",
    );
  }
  const spec = await confineSpec(workspace, specFromArgs(input.args));
  const kv = await openWorkspaceKv(workspace);
  const now = Date.now();
  const old = await withKvRetry(() => kv.get<ScheduleRecord>(key(name)));
  if (old.value && !input.replace) {
    throw new UsageError(`schedule '${name}' exists: remove it first, or pass --replace`);
  }
  const rec: ScheduleRecord = {
    name,
    cron,
    spec,
    args: input.args,
    paused: old.value?.paused ?? false,
    created: old.value?.created ?? now,
    updated: now,
    last_experiment: old.value?.last_experiment ?? null,
    firings: old.value?.firings ?? [],
    fired: old.value?.fired ?? 0,
    skipped: old.value?.skipped ?? 0,
  };
  const res = await withKvRetry(() => kv.atomic().check(old).set(key(name), rec).commit());
  if (!res.ok) throw new UserError(`schedule '${name}' changed at the same time; try again`);
  return rec;
}

/** Every schedule, by name. */
export async function listSchedules(workspace: string): Promise<ScheduleRecord[]> {
  const kv = await openWorkspaceKv(workspace);
  const out: ScheduleRecord[] = [];
  for await (const e of kv.list<ScheduleRecord>({ prefix: ["experiments", "schedule"] })) out.push(e.value);
  return out;
}

/** One schedule or throws {@link ScheduleNotFoundError}. */
export async function getSchedule(workspace: string, name: string): Promise<ScheduleRecord> {
  const kv = await openWorkspaceKv(workspace);
  const e = await withKvRetry(() => kv.get<ScheduleRecord>(key(checkScheduleName(name))));
  if (!e.value) throw new ScheduleNotFoundError(name);
  return e.value;
}

/** Removes a schedule. */
export async function removeSchedule(workspace: string, name: string): Promise<void> {
  await getSchedule(workspace, name);
  const kv = await openWorkspaceKv(workspace);
  await withKvRetry(() => kv.delete(key(name)));
}

async function patchSchedule(
  workspace: string,
  name: string,
  patch: (r: ScheduleRecord) => Partial<ScheduleRecord>,
): Promise<ScheduleRecord> {
  const kv = await openWorkspaceKv(workspace);
  for (let i = 0; i < 50; i++) {
    const e = await withKvRetry(() => kv.get<ScheduleRecord>(key(checkScheduleName(name))));
    if (!e.value) throw new ScheduleNotFoundError(name);
    const next = { ...e.value, ...patch(e.value) };
    if ((await withKvRetry(() => kv.atomic().check(e).set(key(name), next).commit())).ok) return next;
  }
  throw new Error(`could not update schedule ${name}: too much contention`);
}

/** Pauses or resumes a schedule. */
export function setSchedulePaused(workspace: string, name: string, paused: boolean): Promise<ScheduleRecord> {
  return patchSchedule(workspace, name, () => ({ paused, updated: Date.now() }));
}

/** The next fire time of a schedule (null when paused). */
export function scheduleNextFire(rec: ScheduleRecord, now = new Date()): Date | null {
  return rec.paused ? null : nextFire(rec.cron, now);
}

/** The latest firing of a schedule, if any. */
export function lastFiring(rec: ScheduleRecord): ScheduleFiring | null {
  return rec.firings.at(-1) ?? null;
}

/**
 * Fires a schedule now: creates an experiment with `trigger: "cron:<name>"` and kicks this process's
 * runner, or records a skip when the previous experiment of the schedule is still queued or running.
 */
export async function fireSchedule(
  workspace: string,
  name: string,
  options: { kick?: boolean; until?: boolean } = {},
): Promise<ScheduleFiring> {
  const rec = await getSchedule(workspace, name);
  let firing: ScheduleFiring;
  const prev = rec.last_experiment ? await getExperiment(workspace, rec.last_experiment) : null;
  if (prev && !isTerminal(prev.status)) {
    firing = {
      ts: Date.now(),
      outcome: "skipped",
      experiment: prev.id,
      reason: `the previous run ${prev.id} is still ${prev.status}`,
    };
  } else {
    try {
      const exp = await createExperiment(workspace, rec.spec, { trigger: `cron:${name}` });
      firing = { ts: Date.now(), outcome: "started", experiment: exp.id };
    } catch (err) {
      firing = { ts: Date.now(), outcome: "error", reason: err instanceof Error ? err.message : String(err) };
    }
  }
  await patchSchedule(workspace, name, (r) => ({
    firings: [...r.firings, firing].slice(-MAX_FIRINGS),
    fired: r.fired + (firing.outcome === "started" ? 1 : 0),
    skipped: r.skipped + (firing.outcome === "skipped" ? 1 : 0),
    last_experiment: firing.outcome === "started" ? firing.experiment! : r.last_experiment,
  }));
  if (firing.outcome === "started" && options.kick !== false) {
    void experimentRunner(workspace).kick(options.until ? { until: firing.experiment } : {});
  }
  return firing;
}

/** A running scheduler (see {@link startScheduler}). */
export interface Scheduler {
  /** Names of the schedules registered with `Deno.cron` right now. */
  registered(): string[];
  /** Re-reads the schedules now (also runs every `syncMs`). */
  sync(): Promise<void>;
  /** Unregisters every job and stops syncing. */
  stop(): void;
}

function jobName(name: string, cron: string): string {
  // Deno.cron names allow letters, digits, '-' and '_' only.
  let h = 2166136261;
  for (const c of `${name}\0${cron}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return `dspy_exp_${name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40)}_${h.toString(16)}`;
}

/**
 * Registers every schedule of the workspace with `Deno.cron` and keeps the registrations in step with
 * KV; also kicks the runner when experiments are queued (e.g. by a CLI in another process). For `up`.
 */
export function startScheduler(
  workspace: string,
  options: { syncMs?: number; onError?: (err: unknown) => void } = {},
): Scheduler {
  const jobs = new Map<string, { cron: string; ac: AbortController }>();
  const onError = options.onError ?? ((err) => console.error(`experiments scheduler: ${err}`));
  let stopped = false;
  const register = (name: string, cron: string) => {
    const ac = new AbortController();
    jobs.set(name, { cron, ac });
    Deno.cron(jobName(name, cron), cron, { signal: ac.signal }, async () => {
      try {
        // The record decides: a removed, paused or re-timed schedule does nothing.
        const kv = await openWorkspaceKv(workspace);
        const cur = (await withKvRetry(() => kv.get<ScheduleRecord>(key(name)))).value;
        if (!cur || cur.paused || cur.cron !== cron) return;
        await fireSchedule(workspace, name);
      } catch (err) {
        onError(err);
      }
    }).catch(onError);
  };
  const sync = async () => {
    if (stopped) return;
    const current = await listSchedules(workspace);
    const seen = new Set<string>();
    for (const s of current) {
      seen.add(s.name);
      const job = jobs.get(s.name);
      if (s.paused) {
        if (job) {
          job.ac.abort();
          jobs.delete(s.name);
        }
        continue;
      }
      if (job && job.cron === s.cron) continue;
      job?.ac.abort();
      register(s.name, s.cron);
    }
    for (const [name, job] of jobs) {
      if (!seen.has(name)) {
        job.ac.abort();
        jobs.delete(name);
      }
    }
  };
  let syncing: Promise<void> | null = null;
  const tick = () => {
    syncing ??= (async () => {
      try {
        await sync();
        const runner = experimentRunner(workspace);
        if (!runner.busy && await nextQueued(workspace)) void runner.kick();
      } catch (err) {
        onError(err);
      } finally {
        syncing = null;
      }
    })();
    return syncing;
  };
  void tick();
  const timer = setInterval(tick, options.syncMs ?? 2000);
  return {
    registered: () => [...jobs.keys()].sort(),
    sync: () => tick(),
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const job of jobs.values()) job.ac.abort();
      jobs.clear();
    },
  };
}

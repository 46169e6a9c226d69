/**
 * Experiment records in the workspace's KV: `["experiments", "rec", id]` holds each record,
 * `["experiments", "queue", created, id]` orders the queued ones, and `["experiments", "lock"]` names the
 * one run in progress across every process of the workspace (a CLI run and the `up` server share the queue).
 * `["experiments", "history_pending", id]` is an outbox: the commit that ends a run also writes its history
 * row there, and the row moves to `history.jsonl` right after. A process killed between the two, or a reader
 * in another process that looks in between, finds the row there instead of losing it
 * ({@link flushPendingHistory}; {@link finishedHistory} reads through it).
 *
 * A record whose status is `running` carries its owner (pid, host, heartbeat). {@link recoverInterrupted}
 * marks it `interrupted` when its owner process is gone (same host, no such pid) or silent for
 * {@link STALE_MS}: the next start of any experiments command or server sees the truth instead of a run
 * that stays "running" forever (the original kept this state in memory only).
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import { openWorkspaceKv, withKvRetry } from "../core/kv.ts";
import { appendHistory, appendLog, type HistoryRow, logPathOf, readHistory } from "./logs.ts";
import {
  type ExperimentOwner,
  type ExperimentRecord,
  type ExperimentSpec,
  type ExperimentStatus,
  isTerminal,
} from "./types.ts";

/** A running record without a heartbeat for this long is taken as dead. */
export const STALE_MS = 30_000;

const REC = "rec";
const HISTORY_PENDING = "history_pending";

/** No experiment with that id (HTTP 404). */
export class ExperimentNotFoundError extends UserError {
  /** HTTP status. */
  readonly status = 404;
  constructor(id: string) {
    super(`no experiment '${id}': 'dspy-code experiments list' shows the ids`);
    this.name = "ExperimentNotFoundError";
  }
}

/** This host's name (owner records). */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** The owner record of this process. */
export function selfOwner(): ExperimentOwner {
  return { pid: Deno.pid, host: hostName(), heartbeat: Date.now() };
}

function pidAlive(pid: number): boolean | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** True when the owner is certainly gone (its pid no longer exists here) or silent for too long. */
export function ownerDead(owner: ExperimentOwner | undefined, now = Date.now()): boolean {
  if (!owner) return true;
  if (owner.host === hostName() && owner.pid !== Deno.pid && pidAlive(owner.pid) === false) return true;
  return now - owner.heartbeat > STALE_MS;
}

/** A new id: 12 hex digits that sort by creation time (`sweep_` prefix for sweeps). */
export function newExperimentId(kind: ExperimentSpec["kind"]): string {
  const t = Date.now().toString(16).padStart(11, "0").slice(-11);
  const r = crypto.getRandomValues(new Uint8Array(3));
  const hex = t + [...r].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 5);
  return kind === "sweep" ? `sweep_${hex}` : hex;
}

/** Creates a queued experiment (and its queued cells for a sweep). */
export async function createExperiment(
  workspace: string,
  spec: ExperimentSpec,
  options: { trigger: string; parent?: string; id?: string },
): Promise<ExperimentRecord> {
  const kv = await openWorkspaceKv(workspace);
  const id = options.id ?? newExperimentId(spec.kind);
  const now = Date.now();
  const record: ExperimentRecord = {
    id,
    kind: spec.kind,
    params: spec.params,
    status: "queued",
    trigger: options.trigger,
    created: now,
    started: null,
    finished: null,
    progress: null,
    metrics: null,
    error: null,
    log: logPathOf(id),
    ...(options.parent ? { parent: options.parent } : {}),
  };
  const op = kv.atomic().check({ key: ["experiments", REC, id], versionstamp: null }).set(
    ["experiments", REC, id],
    record,
  );
  if (!options.parent) op.set(["experiments", "queue", now, id], id);
  const res = await withKvRetry(() => op.commit());
  if (!res.ok) throw new UserError(`experiment id '${id}' already exists`);
  return record;
}

/** Reads a record; null when absent. Marks a dead `running` record `interrupted` first. */
export async function getExperiment(workspace: string, id: string): Promise<ExperimentRecord | null> {
  const kv = await openWorkspaceKv(workspace);
  const entry = await withKvRetry(() => kv.get<ExperimentRecord>(["experiments", REC, id]));
  if (!entry.value) return null;
  if (entry.value.status === "running" && ownerDead(entry.value.owner)) {
    await recoverInterrupted(workspace);
    return (await withKvRetry(() => kv.get<ExperimentRecord>(["experiments", REC, id]))).value;
  }
  return entry.value;
}

/** Reads a record or throws {@link ExperimentNotFoundError}. */
export async function requireExperiment(workspace: string, id: string): Promise<ExperimentRecord> {
  const rec = await getExperiment(workspace, id);
  if (!rec) throw new ExperimentNotFoundError(id);
  return rec;
}

/**
 * Updates a record with `patch` (a compare-and-set loop). When the status becomes terminal, also writes
 * the history line. Returns the new record, or null when it vanished.
 */
export async function updateExperiment(
  workspace: string,
  id: string,
  patch: Partial<ExperimentRecord> | ((r: ExperimentRecord) => Partial<ExperimentRecord> | null),
): Promise<ExperimentRecord | null> {
  const kv = await openWorkspaceKv(workspace);
  for (let attempt = 0; attempt < 50; attempt++) {
    const entry = await withKvRetry(() => kv.get<ExperimentRecord>(["experiments", REC, id]));
    if (!entry.value) return null;
    const p = typeof patch === "function" ? patch(entry.value) : patch;
    if (p === null) return entry.value;
    const next = { ...entry.value, ...p };
    const ends = !isTerminal(entry.value.status) && isTerminal(next.status);
    const op = kv.atomic().check(entry).set(["experiments", REC, id], next);
    if (next.status !== "queued") op.delete(["experiments", "queue", next.created, id]);
    if (ends) op.set(["experiments", HISTORY_PENDING, id], next);
    const res = await withKvRetry(() => op.commit());
    if (res.ok) {
      if (ends) await moveToHistory(workspace, id);
      return next;
    }
  }
  throw new Error(`could not update experiment ${id}: too much contention`);
}

/**
 * Appends the pending history row of `id` to `history.jsonl` and removes it from the outbox; nothing when
 * another process moved it first. Two processes can both append it (the row is deleted only after its
 * append, so a crash never loses it); {@link readHistory} keeps one row per id.
 */
async function moveToHistory(workspace: string, id: string): Promise<void> {
  const kv = await openWorkspaceKv(workspace);
  const entry = await withKvRetry(() => kv.get<ExperimentRecord>(["experiments", HISTORY_PENDING, id]));
  if (!entry.value) return;
  await appendHistory(workspace, entry.value);
  await withKvRetry(() => kv.atomic().check(entry).delete(["experiments", HISTORY_PENDING, id]).commit());
}

/**
 * Moves every pending history row (a run that ended in a process killed before it appended the row, or
 * one that is ending right now) to `history.jsonl`. Returns how many it found.
 */
export async function flushPendingHistory(workspace: string): Promise<number> {
  const kv = await openWorkspaceKv(workspace);
  const ids: string[] = [];
  for await (const e of kv.list<ExperimentRecord>({ prefix: ["experiments", HISTORY_PENDING] })) {
    ids.push(String(e.key[2]));
  }
  for (const id of ids) await moveToHistory(workspace, id);
  return ids.length;
}

/**
 * The newest `limit` finished runs, oldest first, as `history.jsonl` holds them once every pending row is
 * in: a run whose terminal status any process can read is in the result.
 */
export async function finishedHistory(workspace: string, limit = 100): Promise<HistoryRow[]> {
  await flushPendingHistory(workspace);
  return await readHistory(workspace, limit);
}

/** Every record, newest first (at most `limit`). Dead running records are marked interrupted first. */
export async function listExperiments(
  workspace: string,
  options: { limit?: number; status?: ExperimentStatus[]; includeChildren?: boolean } = {},
): Promise<ExperimentRecord[]> {
  await recoverInterrupted(workspace);
  const kv = await openWorkspaceKv(workspace);
  const out: ExperimentRecord[] = [];
  for await (const e of kv.list<ExperimentRecord>({ prefix: ["experiments", REC] })) {
    const r = e.value;
    if (!options.includeChildren && r.parent) continue;
    if (options.status && !options.status.includes(r.status)) continue;
    out.push(r);
  }
  out.sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
  return out.slice(0, options.limit ?? 1000);
}

/** The oldest queued top-level experiment's id, or null. */
export async function nextQueued(workspace: string): Promise<string | null> {
  const kv = await openWorkspaceKv(workspace);
  for await (const e of kv.list<string>({ prefix: ["experiments", "queue"] }, { limit: 1 })) return e.value;
  return null;
}

/** The cross-process "one run at a time" lock. */
interface LockValue {
  id: string;
  owner: ExperimentOwner;
}

/**
 * Takes the lock and moves `id` from queued to running in one atomic step. Returns the running record,
 * or null when another live process holds the lock or the record is no longer queued.
 */
export async function claimExperiment(workspace: string, id: string): Promise<ExperimentRecord | null> {
  const kv = await openWorkspaceKv(workspace);
  const lock = await withKvRetry(() => kv.get<LockValue>(["experiments", "lock"]));
  if (lock.value && !ownerDead(lock.value.owner)) return null;
  if (lock.value) await recoverInterrupted(workspace);
  const rec = await withKvRetry(() => kv.get<ExperimentRecord>(["experiments", REC, id]));
  if (!rec.value || rec.value.status !== "queued") {
    if (rec.value) await withKvRetry(() => kv.delete(["experiments", "queue", rec.value.created, id]));
    return null;
  }
  const lockNow = await withKvRetry(() => kv.get<LockValue>(["experiments", "lock"]));
  if (lockNow.value && !ownerDead(lockNow.value.owner)) return null;
  const owner = selfOwner();
  const running: ExperimentRecord = { ...rec.value, status: "running", started: Date.now(), owner };
  const res = await withKvRetry(() =>
    kv.atomic()
      .check(lockNow)
      .check(rec)
      .set(["experiments", "lock"], { id, owner } satisfies LockValue)
      .set(["experiments", REC, id], running)
      .delete(["experiments", "queue", rec.value.created, id])
      .commit()
  );
  return res.ok ? running : null;
}

/** Refreshes the lock's and the record's heartbeat; returns the record (to see `cancel_requested`). */
export async function heartbeat(workspace: string, id: string): Promise<ExperimentRecord | null> {
  const kv = await openWorkspaceKv(workspace);
  const owner = selfOwner();
  const lock = await withKvRetry(() => kv.get<LockValue>(["experiments", "lock"]));
  if (lock.value?.id === id && lock.value.owner.pid === owner.pid) {
    await withKvRetry(() => kv.atomic().check(lock).set(["experiments", "lock"], { id, owner }).commit());
  }
  return await updateExperiment(workspace, id, (r) => r.status === "running" ? { owner } : null);
}

/** Releases the lock if this process holds it for `id`. */
export async function releaseLock(workspace: string, id: string): Promise<void> {
  const kv = await openWorkspaceKv(workspace);
  const lock = await withKvRetry(() => kv.get<LockValue>(["experiments", "lock"]));
  if (lock.value?.id === id && lock.value.owner.pid === Deno.pid) {
    await withKvRetry(() => kv.atomic().check(lock).delete(["experiments", "lock"]).commit());
  }
}

/**
 * Marks every `running` record whose owner is gone as `interrupted` (with a log line and a history line).
 * Returns the ids it marked.
 */
export async function recoverInterrupted(workspace: string): Promise<string[]> {
  const kv = await openWorkspaceKv(workspace);
  const marked: string[] = [];
  for await (const e of kv.list<ExperimentRecord>({ prefix: ["experiments", REC] })) {
    const r = e.value;
    if (r.status !== "running" || !ownerDead(r.owner)) continue;
    const why = r.owner
      ? `the process that ran it (pid ${r.owner.pid} on ${r.owner.host}) stopped`
      : "no process owned it";
    const done = await updateExperiment(
      workspace,
      r.id,
      (cur) =>
        cur.status === "running" && ownerDead(cur.owner)
          ? { status: "interrupted", finished: Date.now(), error: `interrupted: ${why}` }
          : null,
    );
    if (done?.status === "interrupted") {
      marked.push(r.id);
      await appendLog(workspace, r.id, `[interrupted] ${why}`).catch(() => {});
      for (const child of done.children ?? []) {
        const c = await updateExperiment(
          workspace,
          child,
          (cur) =>
            cur.status === "queued"
              ? { status: "interrupted", finished: Date.now(), error: "its sweep was interrupted" }
              : null,
        );
        if (c?.status === "interrupted") marked.push(child);
      }
    }
  }
  const lock = await kv.get<LockValue>(["experiments", "lock"]);
  if (lock.value && ownerDead(lock.value.owner)) {
    await withKvRetry(() => kv.atomic().check(lock).delete(["experiments", "lock"]).commit());
  }
  return marked;
}

/**
 * Cancels an experiment: a queued one (and its queued cells) at once; a running one by setting
 * `cancel_requested`, which its runner sees within a second and stops the run and its children.
 * Returns the record after the change.
 *
 * @throws ExperimentNotFoundError
 */
export async function cancelExperiment(workspace: string, id: string): Promise<ExperimentRecord> {
  const rec = await requireExperiment(workspace, id);
  if (isTerminal(rec.status)) return rec;
  const next = await updateExperiment(workspace, id, (r) => {
    if (r.status === "queued") {
      return { status: "cancelled", finished: Date.now(), error: "cancelled before it started" };
    }
    if (r.status === "running") return { cancel_requested: true };
    return null;
  });
  if (next?.status === "cancelled") {
    await appendLog(workspace, id, "[cancelled] before it started");
    for (const child of next.children ?? []) await cancelExperiment(workspace, child).catch(() => {});
  }
  return next ?? rec;
}

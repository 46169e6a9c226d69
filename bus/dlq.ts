/**
 * The dead-letter queue. A {@link DeadLetterSink} takes records from the bus without ever blocking it: it
 * keeps them in a bounded buffer and writes them in batches to the workspace's KV (`["dlq", id]`) and to
 * `<workspace>/.dspy_reports/dlq.jsonl`. The read functions ({@link listDeadLetters}, {@link getDeadLetter},
 * {@link dlqSummary}, {@link purgeDeadLetters}) work from any process, because they read KV; replaying goes
 * through a bus ({@link replayDeadLetters}).
 *
 * @module
 */

import { appendConfined } from "../core/confined.ts";
import { checkDeadLetterId, checkTopicName } from "./limits.ts";
import { join } from "node:path";
import { openWorkspaceKv, withKvRetry, workspacePaths } from "../core/mod.ts";
import type { Bus, DeadLetterInput, DeadLetterRecord, DlqSummary } from "./types.ts";

/** KV prefix of dead-letter records. */
export const DLQ_PREFIX: Deno.KvKey = ["dlq"];
/** Records kept in memory waiting to be written; past this the sink counts them as unwritten and warns. */
const MAX_BUFFERED = 100_000;
const MAX_PER_COMMIT = 400;
const MAX_BYTES_PER_COMMIT = 500 * 1024;

let idCounter = 0;
const idSuffix = crypto.getRandomValues(new Uint8Array(3)).reduce(
  (s, b) => s + b.toString(16).padStart(2, "0"),
  "",
);

/** A new record id: sortable by time (`d` + ms in base 36 + counter + process suffix). */
export function newDeadLetterId(now = Date.now()): string {
  idCounter = (idCounter + 1) % 1_679_616; // 36^4
  return `d${now.toString(36).padStart(9, "0")}${idCounter.toString(36).padStart(4, "0")}${idSuffix}`;
}

/**
 * Buffers dead letters and writes them in the background. `add` is synchronous and cheap, so the publisher
 * is never blocked by the DLQ; `flush` waits for everything added so far.
 */
export class DeadLetterSink {
  #workspace: string | null;
  #buffer: PendingRecord[] = [];
  #writing: Promise<void> | null = null;
  #scheduled = false;
  /** Counters of records that are not in KV: all of them without a workspace, else those never stored. */
  #counted: DlqSummary = { total: 0, by_topic: {}, last_ts: null };
  /** With a workspace: the summary of the last KV scan, plus this process's records not yet seen by a scan. */
  #scanned: DlqSummary = { total: 0, by_topic: {}, last_ts: null };
  #recent: PendingRecord[] = [];
  #refreshing: Promise<void> | null = null;
  #lastRefresh = 0;
  #scanMs = 0;
  #unwritten = 0;
  #warned = false;
  #onRecord: (record: DeadLetterRecord) => void;

  /** `onRecord` is called synchronously for each record (the bus publishes it on `agent.deadletter`). */
  constructor(options: { workspace: string | null; onRecord?: (record: DeadLetterRecord) => void }) {
    this.#workspace = options.workspace;
    this.#onRecord = options.onRecord ?? (() => {});
  }

  /** Loads the stored summary so `metrics().dlq` includes earlier records (and other processes' records). */
  async loadSummary(): Promise<void> {
    await this.refresh();
  }

  /**
   * Re-reads the summary from KV, so records written, replayed or purged by other processes (or through the
   * DLQ functions) show in `summary()`. Records of this process still being written are kept on top.
   */
  refresh(): Promise<void> {
    if (!this.#workspace) return Promise.resolve();
    if (this.#refreshing) return this.#refreshing;
    const workspace = this.#workspace;
    this.#refreshing = (async () => {
      const scanStart = Date.now();
      const ids = new Set(this.#recent.map((e) => e.record.id));
      const seen = new Set<string>();
      const kv = await openWorkspaceKv(workspace);
      const counts: DlqSummary = { total: 0, by_topic: {}, last_ts: null };
      for await (const e of kv.list<DeadLetterRecord>({ prefix: DLQ_PREFIX })) {
        addTo(counts, e.value);
        if (ids.has(e.value.id)) seen.add(e.value.id);
      }
      this.#scanned = counts;
      this.#recent = this.#recent.filter((e) =>
        !seen.has(e.record.id) && !(e.writtenAt !== null && e.writtenAt < scanStart)
      );
      this.#lastRefresh = Date.now();
      this.#scanMs = this.#lastRefresh - scanStart;
    })().catch(() => {/* keep the previous summary */}).finally(() => (this.#refreshing = null));
    return this.#refreshing;
  }

  /**
   * Starts a background refresh when the summary is older than `maxAgeMs` (the bus calls it from metrics()).
   * A refresh reads every record, so with a large DLQ the interval stretches to 20× the last scan's time:
   * frequent metrics readers (the server, scrapes) spend at most ~5% of a core on it.
   */
  maybeRefresh(maxAgeMs = 2000): void {
    const age = Math.max(maxAgeMs, 20 * this.#scanMs);
    if (this.#workspace && !this.#refreshing && Date.now() - this.#lastRefresh > age) {
      void this.refresh();
    }
  }

  /** Records one dead letter; returns it with its id. Never throws, never blocks. */
  add(input: DeadLetterInput): DeadLetterRecord {
    const now = Date.now();
    const record: DeadLetterRecord = {
      id: newDeadLetterId(now),
      ts: input.ts ?? now / 1000,
      topic: input.topic,
      group: input.group,
      reason: input.reason,
      message: input.message,
      message_id: input.message_id,
      key: input.key,
      attempts: input.attempts,
      error: input.error,
    };
    if (this.#workspace && this.#buffer.length < MAX_BUFFERED) {
      const entry: PendingRecord = { record, writtenAt: null };
      this.#buffer.push(entry);
      this.#recent.push(entry);
      this.#schedule();
    } else {
      addTo(this.#counted, record);
      if (this.#workspace) {
        this.#unwritten++;
        if (!this.#warned) {
          this.#warned = true;
          console.error(
            `warning: the dead-letter queue is writing slower than messages are dead-lettered; ` +
              `records beyond ${MAX_BUFFERED} buffered are counted in metrics (dlq.unwritten) but not stored`,
          );
        }
      }
    }
    try {
      this.#onRecord(record);
    } catch { /* an observer must not break the publisher */ }
    return record;
  }

  /** The summary: stored records (as of the last refresh) plus this process's records since. */
  summary(): DlqSummary & { unwritten: number } {
    const out: DlqSummary = {
      total: this.#scanned.total,
      by_topic: { ...this.#scanned.by_topic },
      last_ts: this.#scanned.last_ts,
    };
    for (const e of this.#recent) addTo(out, e.record);
    out.total += this.#counted.total;
    for (const [t, n] of Object.entries(this.#counted.by_topic)) out.by_topic[t] = (out.by_topic[t] ?? 0) + n;
    if (this.#counted.last_ts !== null) out.last_ts = Math.max(out.last_ts ?? 0, this.#counted.last_ts);
    return { ...out, unwritten: this.#unwritten };
  }

  /** Records waiting to be written. */
  get pending(): number {
    return this.#buffer.length;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#startWrite();
    }, 0);
  }

  #startWrite(): void {
    if (this.#writing || this.#buffer.length === 0) return;
    this.#writing = this.#writeAll().catch((err) => {
      console.error(`warning: could not write dead letters: ${err instanceof Error ? err.message : err}`);
    }).finally(() => {
      this.#writing = null;
      if (this.#buffer.length > 0) this.#schedule();
    });
  }

  async #writeAll(): Promise<void> {
    const workspace = this.#workspace!;
    while (this.#buffer.length > 0) {
      const entries = this.#buffer.splice(0, 5000);
      const batch = entries.map((e) => e.record);
      const kv = await openWorkspaceKv(workspace);
      const lines: string[] = [];
      let op = kv.atomic();
      let count = 0;
      let bytes = 0;
      for (const record of batch) {
        const line = safeStringify(record);
        lines.push(line);
        if (count >= MAX_PER_COMMIT || (count > 0 && bytes + line.length > MAX_BYTES_PER_COMMIT)) {
          const full = op;
          await withKvRetry(() => full.commit());
          op = kv.atomic();
          count = 0;
          bytes = 0;
        }
        op.set(
          [...DLQ_PREFIX, record.id],
          line.length > 60_000 ? { ...record, message: truncated(line) } : record,
        );
        count++;
        bytes += line.length;
      }
      if (count > 0) {
        const last = op;
        await withKvRetry(() => last.commit());
      }
      const writtenAt = Date.now();
      for (const e of entries) e.writtenAt = writtenAt;
      const { reportsDir } = workspacePaths(workspace);
      // Never through a planted symlink (core/confined.ts): the mirror would append to its target.
      await appendConfined(workspace, join(reportsDir, "dlq.jsonl"), lines.join("\n") + "\n");
    }
  }

  /** Waits until every record added so far is in KV and in dlq.jsonl. */
  async flush(): Promise<void> {
    if (this.#refreshing) await this.#refreshing;
    while (this.#buffer.length > 0 || this.#writing || this.#scheduled) {
      if (this.#writing) await this.#writing;
      else this.#startWrite();
      if (!this.#writing && this.#buffer.length > 0) await new Promise((r) => setTimeout(r, 1));
      else if (!this.#writing && this.#scheduled) await new Promise((r) => setTimeout(r, 1));
    }
  }
}

/** A record waiting to be written (or written and not yet seen by a summary scan). */
interface PendingRecord {
  record: DeadLetterRecord;
  /** When it was committed to KV, or null while pending. */
  writtenAt: number | null;
}

function addTo(summary: DlqSummary, record: DeadLetterRecord): void {
  summary.total++;
  summary.by_topic[record.topic] = (summary.by_topic[record.topic] ?? 0) + 1;
  if (summary.last_ts === null || record.ts > summary.last_ts) summary.last_ts = record.ts;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify({ ...(value as object), message: "[unserialisable]" });
  }
}

/** KV values are limited to 64 KiB: very large messages are stored as a truncated string marker. */
function truncated(line: string): string {
  return `[message too large for KV (${line.length} bytes); the full record is in .dspy_reports/dlq.jsonl]`;
}

/** Options for {@link listDeadLetters}. */
export interface ListDeadLettersOptions {
  /** Only records of this topic. */
  topic?: string;
  /** At most this many (default 100; newest last). */
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
}

/** Reads dead-letter records from the workspace's KV (oldest first unless `reverse`). Works from any process. */
export async function listDeadLetters(
  workspace: string,
  options: ListDeadLettersOptions = {},
): Promise<DeadLetterRecord[]> {
  const kv = await openWorkspaceKv(workspace);
  const limit = options.limit ?? 100;
  const out: DeadLetterRecord[] = [];
  if (options.topic === undefined) {
    for await (
      const e of kv.list<DeadLetterRecord>({ prefix: DLQ_PREFIX }, { limit, reverse: options.reverse })
    ) {
      out.push(e.value);
    }
    return out;
  }
  for await (const e of kv.list<DeadLetterRecord>({ prefix: DLQ_PREFIX }, { reverse: options.reverse })) {
    if (e.value.topic !== options.topic) continue;
    out.push(e.value);
    if (out.length >= limit) break;
  }
  return out;
}

/** One record by id, or null. */
export async function getDeadLetter(workspace: string, id: string): Promise<DeadLetterRecord | null> {
  checkDeadLetterId(id);
  const kv = await openWorkspaceKv(workspace);
  return (await kv.get<DeadLetterRecord>([...DLQ_PREFIX, id])).value;
}

/** Counts stored records: total, per topic and the newest timestamp (the `/metrics` `dlq` key). */
export async function dlqSummary(workspace: string): Promise<DlqSummary> {
  const kv = await openWorkspaceKv(workspace);
  const summary: DlqSummary = { total: 0, by_topic: {}, last_ts: null };
  for await (const e of kv.list<DeadLetterRecord>({ prefix: DLQ_PREFIX })) {
    summary.total++;
    summary.by_topic[e.value.topic] = (summary.by_topic[e.value.topic] ?? 0) + 1;
    if (summary.last_ts === null || e.value.ts > summary.last_ts) summary.last_ts = e.value.ts;
  }
  return summary;
}

/** Which records {@link purgeDeadLetters} and {@link replayDeadLetters} act on (all when empty). */
export interface DeadLetterSelector {
  /** These record ids. */
  ids?: string[];
  /** Records of this topic. */
  topic?: string;
}

async function selectKeys(
  kv: Deno.Kv,
  selector: DeadLetterSelector,
): Promise<Deno.KvEntry<DeadLetterRecord>[]> {
  const out: Deno.KvEntry<DeadLetterRecord>[] = [];
  if (selector.topic !== undefined) checkTopicName(selector.topic);
  for (const id of selector.ids ?? []) checkDeadLetterId(id);
  if (selector.ids && selector.ids.length > 0) {
    for (const id of selector.ids) {
      const e = await kv.get<DeadLetterRecord>([...DLQ_PREFIX, id]);
      if (e.versionstamp !== null && (selector.topic === undefined || e.value.topic === selector.topic)) {
        out.push(e as Deno.KvEntry<DeadLetterRecord>);
      }
    }
    return out;
  }
  for await (const e of kv.list<DeadLetterRecord>({ prefix: DLQ_PREFIX })) {
    if (selector.topic === undefined || e.value.topic === selector.topic) out.push(e);
  }
  return out;
}

/** Deletes records from KV (dlq.jsonl stays as an audit log). Returns how many were removed. */
export async function purgeDeadLetters(
  workspace: string,
  selector: DeadLetterSelector = {},
): Promise<number> {
  const kv = await openWorkspaceKv(workspace);
  const entries = await selectKeys(kv, selector);
  for (let i = 0; i < entries.length; i += MAX_PER_COMMIT) {
    const op = kv.atomic();
    for (const e of entries.slice(i, i + MAX_PER_COMMIT)) op.delete(e.key);
    await op.commit();
  }
  return entries.length;
}

/** Result of {@link replayDeadLetters}. */
export interface ReplayResult {
  /** Record ids republished and removed from the DLQ. */
  replayed: string[];
  /** Records that could not be republished (kept in the DLQ), with the reason. */
  failed: { id: string; error: string }[];
}

/**
 * Republishes dead-lettered messages on their topics through `bus` (with their key), then removes each
 * replayed record from KV. Records whose message was too large for KV are skipped with an explanation, and so
 * are (on the LocalBus) records of a non-durable topic nothing in this process subscribes to: publishing
 * them would lose them.
 */
export async function replayDeadLetters(bus: Bus, selector: DeadLetterSelector = {}): Promise<ReplayResult> {
  if (!bus.workspace) throw new Error("replayDeadLetters needs a bus started for a workspace");
  const kv = await openWorkspaceKv(bus.workspace);
  const entries = await selectKeys(kv, selector);
  const result: ReplayResult = { replayed: [], failed: [] };
  for (const e of entries) {
    const rec = e.value;
    if (typeof rec.message === "string" && rec.message.startsWith("[message too large for KV")) {
      result.failed.push({
        id: rec.id,
        error: "message too large for KV; replay it from .dspy_reports/dlq.jsonl",
      });
      continue;
    }
    if (bus.backend === "local" && !bus.isDurable(rec.topic) && bus.hasReceivers?.(rec.topic) === false) {
      // Nothing would receive it: keep the record instead of losing it.
      result.failed.push({
        id: rec.id,
        error:
          `topic '${rec.topic}' is not durable and has no subscriber or consumer group in this process; ` +
          `start its consumer (or make the topic durable) and replay again`,
      });
      continue;
    }
    try {
      await bus.publish(rec.topic, rec.message, {
        ...(rec.key ? { key: rec.key } : {}),
        headers: { "dspy-replayed-from": rec.id },
      });
      await kv.delete(e.key);
      result.replayed.push(rec.id);
    } catch (err) {
      result.failed.push({ id: rec.id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  await bus.flush();
  return result;
}

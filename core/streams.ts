/**
 * Ordered, append-only streams in Deno KV: the durable log behind `agent.metrics`, `agent.actions` and
 * durable bus topics. Each stream keeps a head counter; an append reserves a range of sequence numbers and
 * writes the entries in the same atomic commit, so sequence numbers have no gaps and are ordered across
 * processes. Readers (also in other processes) page by sequence number and poll to follow.
 *
 * Keys: `["stream", name, "head"]` → next sequence (`Deno.KvU64`); `["stream", name, "e", seq]` → entry.
 *
 * @module
 */

import { withKvRetry } from "./kv.ts";

/** One stored entry of a stream. */
export interface StreamEntry<T = unknown> {
  /** Sequence number within the stream, starting at 1, without gaps. */
  seq: number;
  /** Milliseconds since the epoch when it was appended. */
  ts: number;
  /** The stored value. */
  value: T;
  /** Message key, for entries written by a durable bus topic ({@link appendRecordsToStream}). */
  key?: string | null;
  /** Message headers, for entries written by a durable bus topic. */
  headers?: Record<string, string> | null;
}

/** A value plus the optional key and headers a durable bus topic stores next to it. */
export interface StreamRecord {
  value: unknown;
  key?: string | null;
  headers?: Record<string, string> | null;
}

/** Deno KV allows a bounded number of mutations per atomic commit; stay well below it. */
const MAX_ENTRIES_PER_COMMIT = 500;
/** ...and a bounded total size per commit (800 KiB); stay below it. */
const MAX_BYTES_PER_COMMIT = 600 * 1024;

function headKey(stream: string): Deno.KvKey {
  return ["stream", stream, "head"];
}

function entryKey(stream: string, seq: number): Deno.KvKey {
  return ["stream", stream, "e", seq];
}

/**
 * Appends values to a stream, in order, and returns their sequence numbers. Large batches are split into
 * several commits; each commit is atomic and gap-free.
 */
export function appendToStream(kv: Deno.Kv, stream: string, values: unknown[]): Promise<number[]> {
  return appendRecordsToStream(kv, stream, values.map((value) => ({ value })));
}

/**
 * Like {@link appendToStream}, with a key and headers stored beside each value (entries stay readable by
 * every stream reader: `value` is the value). Used by durable bus topics.
 */
export async function appendRecordsToStream(
  kv: Deno.Kv,
  stream: string,
  records: StreamRecord[],
): Promise<number[]> {
  const values = records;
  const seqs: number[] = [];
  let start = 0;
  while (start < values.length) {
    // Take as many values as fit in one commit.
    let end = start;
    let bytes = 0;
    while (end < values.length && end - start < MAX_ENTRIES_PER_COMMIT) {
      const size = JSON.stringify(values[end].value)?.length ?? 0;
      if (end > start && bytes + size > MAX_BYTES_PER_COMMIT) break;
      bytes += size;
      end++;
    }
    seqs.push(...await commitBatch(kv, stream, values.slice(start, end)));
    start = end;
  }
  return seqs;
}

async function commitBatch(kv: Deno.Kv, stream: string, batch: StreamRecord[]): Promise<number[]> {
  for (let attempt = 0;; attempt++) {
    const head = await withKvRetry(() => kv.get<Deno.KvU64>(headKey(stream)));
    const first = head.value ? Number(head.value.value) : 1;
    const ts = Date.now();
    const op = kv.atomic().check(head).set(headKey(stream), new Deno.KvU64(BigInt(first + batch.length)));
    batch.forEach((r, i) => {
      const entry: StreamEntry = { seq: first + i, ts, value: r.value };
      if (r.key != null) entry.key = r.key;
      if (r.headers != null) entry.headers = r.headers;
      op.set(entryKey(stream, first + i), entry);
    });
    const res = await withKvRetry(() => op.commit());
    if (res.ok) return batch.map((_, i) => first + i);
    // Another writer won the race; back off a little (with jitter) and try again.
    await new Promise((r) => setTimeout(r, Math.min(50, 1 + attempt * 2) * Math.random()));
  }
}

/** Options for {@link readStream}. */
export interface ReadStreamOptions {
  /** Return entries with `seq > after` (default 0: from the start). */
  after?: number;
  /** At most this many entries (default 100). */
  limit?: number;
  /** Newest first instead of oldest first. */
  reverse?: boolean;
}

/** Reads a page of a stream in sequence order. */
export async function readStream<T = unknown>(
  kv: Deno.Kv,
  stream: string,
  options: ReadStreamOptions = {},
): Promise<StreamEntry<T>[]> {
  const after = options.after ?? 0;
  // A page is read whole, so a retry after "database is locked" starts it again from the same place.
  return await withKvRetry(async () => {
    const out: StreamEntry<T>[] = [];
    const iter = kv.list<StreamEntry<T>>(
      { start: entryKey(stream, after + 1), end: ["stream", stream, "e", Number.MAX_SAFE_INTEGER] },
      { limit: options.limit ?? 100, reverse: options.reverse ?? false },
    );
    for await (const entry of iter) out.push(entry.value);
    return out;
  });
}

/** The sequence number the next append will get minus one (0 for an empty stream). */
export async function streamHead(kv: Deno.Kv, stream: string): Promise<number> {
  const head = await withKvRetry(() => kv.get<Deno.KvU64>(headKey(stream)));
  return head.value ? Number(head.value.value) - 1 : 0;
}

/** Options for {@link followStream}. */
export interface FollowOptions extends ReadStreamOptions {
  /** Poll interval in milliseconds when caught up (default 250). */
  pollMs?: number;
  /** Stops following when aborted. */
  signal?: AbortSignal;
}

/**
 * Yields every entry after `after`, then keeps polling for new ones until the signal aborts. Works across
 * processes because it reads KV rather than relying on `kv.watch`.
 */
export async function* followStream<T = unknown>(
  kv: Deno.Kv,
  stream: string,
  options: FollowOptions = {},
): AsyncGenerator<StreamEntry<T>> {
  let after = options.after ?? 0;
  const pollMs = options.pollMs ?? 250;
  while (!options.signal?.aborted) {
    const page = await readStream<T>(kv, stream, { after, limit: options.limit ?? 500 });
    for (const entry of page) {
      after = entry.seq;
      yield entry;
    }
    if (page.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        options.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }
}

/** Deletes entries older than `maxAgeMs` or beyond the newest `maxCount`. Returns how many were removed. */
export async function trimStream(
  kv: Deno.Kv,
  stream: string,
  retention: { maxCount?: number; maxAgeMs?: number },
): Promise<number> {
  const head = await streamHead(kv, stream);
  const keepFrom = retention.maxCount !== undefined ? head - retention.maxCount + 1 : 1;
  const cutoff = retention.maxAgeMs !== undefined ? Date.now() - retention.maxAgeMs : -Infinity;
  let removed = 0;
  let op = kv.atomic();
  let pending = 0;
  for await (
    const entry of kv.list<StreamEntry>({
      start: entryKey(stream, 0),
      end: ["stream", stream, "e", Number.MAX_SAFE_INTEGER],
    })
  ) {
    const { seq, ts } = entry.value;
    if (seq >= keepFrom && ts >= cutoff) break;
    op.delete(entry.key);
    removed++;
    if (++pending >= MAX_ENTRIES_PER_COMMIT) {
      await op.commit();
      op = kv.atomic();
      pending = 0;
    }
  }
  if (pending > 0) await op.commit();
  return removed;
}

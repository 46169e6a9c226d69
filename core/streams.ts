/**
 * Ordered, append-only streams in Deno KV: the durable log behind `agent.metrics`, `agent.actions` and
 * durable bus topics. Each stream keeps a head counter; an append reserves a range of sequence numbers and
 * writes the entries in the same atomic commit, so sequence numbers have no gaps and are ordered across
 * processes. Readers (also in other processes) page by sequence number and poll to follow.
 *
 * Entries are stored in **blocks**: the entries of one commit are packed, up to {@link BLOCK_RECORDS} at a
 * time, into one KV value. Reading a KV entry costs about 4 µs of CPU whatever it holds, so one entry per
 * record made that the floor of every consumer (`bench/kv_list_bench.ts` measures it); a block of 64 small
 * records reads in under 1 µs a record. Sequence numbers stay per entry, so offsets, ids (`TOPIC:SEQ`) and
 * `after` mean what they meant. A block shares one timestamp (its commit's).
 *
 * Keys: `["stream", name, "head"]` → next sequence (`Deno.KvU64`); `["stream", name, "b", first]` → block
 * of the entries `first`, `first + 1`, ... Workspaces written before blocks (one `["stream", name, "e", seq]`
 * entry per record) are converted once, on first use ({@link ensureBlockFormat}).
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
  /** `JSON.stringify(value).length` when the caller already measured it (sizes the commits and blocks). */
  jsonLength?: number;
}

/** How consecutive entries of one commit are stored: one KV value. */
interface StoredBlock {
  first: number;
  ts: number;
  values: unknown[];
  /** Present only when some entry has a key. */
  keys?: (string | null)[];
  /** Present only when some entry has headers. */
  headers?: (Record<string, string> | null)[];
}

/** Most entries in one block. Past about 64 the per-entry saving levels off and pages waste more. */
export const BLOCK_RECORDS = 64;
/** A block's JSON size budget; a KV value is limited to 64 KiB (checked by KV, see {@link commitBatch}). */
const BLOCK_BYTES = 24_000;
/** Deno KV allows a bounded number of mutations per atomic commit; stay well below it. */
const MAX_ENTRIES_PER_COMMIT = 500;
/** ...and a bounded total size per commit (800 KiB); stay below it. */
const MAX_BYTES_PER_COMMIT = 600 * 1024;
/** Largest page of blocks one `kv.list` call fetches. */
const MAX_LIST_BATCH = 500;

function headKey(stream: string): Deno.KvKey {
  return ["stream", stream, "head"];
}

function blockKey(stream: string, first: number): Deno.KvKey {
  return ["stream", stream, "b", first];
}

function lastSeq(block: StoredBlock): number {
  return block.first + block.values.length - 1;
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
  await ensureBlockFormat(kv);
  const sizes = records.map((r) => r.jsonLength ?? JSON.stringify(r.value)?.length ?? 0);
  const seqs: number[] = [];
  let start = 0;
  let maxEntries = MAX_ENTRIES_PER_COMMIT;
  while (start < records.length) {
    // Take as many records as fit in one commit.
    let end = start;
    let bytes = 0;
    while (end < records.length && end - start < maxEntries) {
      if (end > start && bytes + sizes[end] > MAX_BYTES_PER_COMMIT) break;
      bytes += sizes[end];
      end++;
    }
    try {
      seqs.push(...await commitBatch(kv, stream, records.slice(start, end), sizes.slice(start, end)));
    } catch (err) {
      // JSON length underestimates KV's encoding of numbers: commit fewer records at a time.
      if (!isCommitTooLarge(err) || end - start === 1) throw err;
      maxEntries = Math.max(1, (end - start) >> 1);
      continue;
    }
    start = end;
  }
  return seqs;
}

/** Splits a commit's records into runs of at most `maxRecords` entries and about `maxBytes` of JSON. */
function splitIntoBlocks(sizes: number[], maxRecords: number, maxBytes: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = 0;
  while (start < sizes.length) {
    let end = start + 1;
    let bytes = sizes[start];
    while (end < sizes.length && end - start < maxRecords && bytes + sizes[end] <= maxBytes) {
      bytes += sizes[end++];
    }
    runs.push([start, end]);
    start = end;
  }
  return runs;
}

function makeBlock(first: number, ts: number, records: StreamRecord[]): StoredBlock {
  const block: StoredBlock = { first, ts, values: records.map((r) => r.value) };
  if (records.some((r) => r.key != null)) block.keys = records.map((r) => r.key ?? null);
  if (records.some((r) => r.headers != null)) block.headers = records.map((r) => r.headers ?? null);
  return block;
}

function isValueTooLarge(err: unknown): boolean {
  return err instanceof TypeError && /Value too large/i.test(err.message);
}

function isCommitTooLarge(err: unknown): boolean {
  return err instanceof TypeError && /Total mutation size too large/i.test(err.message);
}

async function commitBatch(
  kv: Deno.Kv,
  stream: string,
  batch: StreamRecord[],
  sizes: number[],
): Promise<number[]> {
  // JSON length only estimates KV's serialized size (numbers can take more room there), so a block KV finds
  // too large is split further and the commit retried, down to one entry per block.
  let maxRecords = BLOCK_RECORDS;
  let maxBytes = BLOCK_BYTES;
  for (let attempt = 0;; attempt++) {
    const head = await withKvRetry(() => kv.get<Deno.KvU64>(headKey(stream)));
    const first = head.value ? Number(head.value.value) : 1;
    const ts = Date.now();
    const op = kv.atomic().check(head).set(headKey(stream), new Deno.KvU64(BigInt(first + batch.length)));
    for (const [s, e] of splitIntoBlocks(sizes, maxRecords, maxBytes)) {
      op.set(blockKey(stream, first + s), makeBlock(first + s, ts, batch.slice(s, e)));
    }
    let res: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      res = await withKvRetry(() => op.commit());
    } catch (err) {
      if (!isValueTooLarge(err) || maxRecords === 1) throw err;
      maxRecords = Math.max(1, maxRecords >> 1);
      maxBytes = Math.max(1, maxBytes >> 1);
      continue;
    }
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

/**
 * Lists the stream's blocks whose first entry is in `[from, to)`, oldest first or (`reverse`) newest first. The
 * number of blocks fetched per `kv.list` call follows how many entries the caller still `wants` and how many
 * entries the blocks seen so far held, so a page of 500 entries costs a few KV calls whether its blocks hold
 * one entry or 64.
 */
async function* scanBlocks(
  kv: Deno.Kv,
  stream: string,
  range: { from: number; to: number; reverse: boolean },
  wants: number,
): AsyncGenerator<StoredBlock> {
  let lo = range.from;
  let hi = range.to;
  let blocksSeen = 0;
  let entriesSeen = 0;
  for (;;) {
    const perBlock = blocksSeen === 0 ? BLOCK_RECORDS : Math.max(1, entriesSeen / blocksSeen);
    const remaining = wants - entriesSeen;
    const batch = remaining > 0
      ? Math.min(MAX_LIST_BATCH, Math.ceil(remaining / perBlock) + 1)
      : Math.min(MAX_LIST_BATCH, 64);
    let got = 0;
    const iter = kv.list<StoredBlock>(
      { start: blockKey(stream, lo), end: blockKey(stream, hi) },
      { limit: batch, batchSize: batch, reverse: range.reverse },
    );
    for await (const e of iter) {
      got++;
      blocksSeen++;
      entriesSeen += e.value.values.length;
      if (range.reverse) hi = e.value.first;
      else lo = e.value.first + 1;
      yield e.value;
    }
    if (got < batch) return;
  }
}

/** Entry `i` of a block, as readers see it (no `key` or `headers` field when it has none). */
function entryAt<T>(block: StoredBlock, i: number): StreamEntry<T> {
  const entry: StreamEntry<T> = { seq: block.first + i, ts: block.ts, value: block.values[i] as T };
  const key = block.keys?.[i];
  if (key != null) entry.key = key;
  const headers = block.headers?.[i];
  if (headers != null) entry.headers = headers;
  return entry;
}

/** Reads a page of a stream in sequence order. */
export async function readStream<T = unknown>(
  kv: Deno.Kv,
  stream: string,
  options: ReadStreamOptions = {},
): Promise<StreamEntry<T>[]> {
  await ensureBlockFormat(kv);
  const after = Math.max(0, options.after ?? 0);
  const limit = options.limit ?? 100;
  // A page is read whole, so a retry after "database is locked" starts it again from the same place.
  return await withKvRetry(async () => {
    const out: StreamEntry<T>[] = [];
    if (limit <= 0) return out;
    if (options.reverse) {
      for await (
        const block of scanBlocks(kv, stream, { from: 0, to: Number.MAX_SAFE_INTEGER, reverse: true }, limit)
      ) {
        for (let i = block.values.length - 1; i >= 0 && out.length < limit; i--) {
          if (block.first + i > after) out.push(entryAt(block, i));
        }
        if (out.length >= limit || block.first <= after + 1) break;
      }
      return out;
    }
    // The block holding entry `after + 1` may start before it: find the last block starting at or before it.
    let from = after + 1;
    for await (
      const e of kv.list<StoredBlock>(
        { start: blockKey(stream, 0), end: blockKey(stream, after + 2) },
        { limit: 1, reverse: true },
      )
    ) {
      if (lastSeq(e.value) > after) from = e.value.first;
    }
    for await (
      const block of scanBlocks(kv, stream, { from, to: Number.MAX_SAFE_INTEGER, reverse: false }, limit)
    ) {
      for (let i = Math.max(0, after + 1 - block.first); i < block.values.length && out.length < limit; i++) {
        out.push(entryAt(block, i));
      }
      if (out.length >= limit) break;
    }
    return out;
  });
}

/**
 * Yields a stream's entries newest first, for scans that stop at a window or a time (the tools table, the
 * events backlog). `wants` is how many entries the caller expects to read; it sizes the KV reads only.
 */
export async function* scanStreamBackward<T = unknown>(
  kv: Deno.Kv,
  stream: string,
  wants = 500,
): AsyncGenerator<StreamEntry<T>> {
  await ensureBlockFormat(kv);
  for await (
    const block of scanBlocks(kv, stream, { from: 0, to: Number.MAX_SAFE_INTEGER, reverse: true }, wants)
  ) {
    for (let i = block.values.length - 1; i >= 0; i--) yield entryAt<T>(block, i);
  }
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

/**
 * Deletes entries older than `maxAgeMs` or beyond the newest `maxCount`. Returns how many were removed.
 * A block that straddles the count limit is rewritten with its newer entries only, so `maxCount` is exact.
 */
export async function trimStream(
  kv: Deno.Kv,
  stream: string,
  retention: { maxCount?: number; maxAgeMs?: number },
): Promise<number> {
  await ensureBlockFormat(kv);
  const head = await streamHead(kv, stream);
  const keepFrom = retention.maxCount !== undefined ? head - retention.maxCount + 1 : 1;
  const cutoff = retention.maxAgeMs !== undefined ? Date.now() - retention.maxAgeMs : -Infinity;
  let removed = 0;
  let op = kv.atomic();
  let pending = 0;
  let straddling: Deno.KvEntry<StoredBlock> | null = null;
  for await (
    const entry of kv.list<StoredBlock>({
      start: blockKey(stream, 0),
      end: blockKey(stream, Number.MAX_SAFE_INTEGER),
    })
  ) {
    const block = entry.value;
    if (lastSeq(block) >= keepFrom && block.ts >= cutoff) {
      if (block.first < keepFrom) straddling = entry;
      break;
    }
    op.delete(entry.key);
    removed += block.values.length;
    if (++pending >= MAX_ENTRIES_PER_COMMIT) {
      await op.commit();
      op = kv.atomic();
      pending = 0;
    }
  }
  if (pending > 0) await op.commit();
  if (straddling !== null) {
    const block = straddling.value;
    const drop = keepFrom - block.first;
    const kept: StoredBlock = { first: keepFrom, ts: block.ts, values: block.values.slice(drop) };
    if (block.keys) kept.keys = block.keys.slice(drop);
    if (block.headers) kept.headers = block.headers.slice(drop);
    // Checked: another trim may have rewritten it already (then this one changes nothing).
    const res = await kv.atomic().check(straddling).delete(straddling.key).set(
      blockKey(stream, keepFrom),
      kept,
    )
      .commit();
    if (res.ok) removed += drop;
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------------------
// Conversion of workspaces written with one KV entry per record.

const FORMAT_KEY: Deno.KvKey = ["stream_format"];
const BLOCK_FORMAT = 2;
const formatChecked = new WeakMap<Deno.Kv, Promise<void>>();

/** The pre-block entry layout: `["stream", name, "e", seq]` → one of these. */
interface LegacyEntry {
  seq: number;
  ts: number;
  value: unknown;
  key?: string | null;
  headers?: Record<string, string> | null;
}

/**
 * Converts every stream still stored one KV entry per record into blocks, once per KV file (a marker key
 * records it). Each block replaces its entries in one atomic commit that checks they are unchanged, so two
 * processes converting at once cannot duplicate an entry; a failed check is simply converted by the other.
 */
function ensureBlockFormat(kv: Deno.Kv): Promise<void> {
  let checked = formatChecked.get(kv);
  if (checked === undefined) {
    checked = convertLegacyStreams(kv);
    formatChecked.set(kv, checked);
    checked.catch(() => formatChecked.delete(kv));
  }
  return checked;
}

async function convertLegacyStreams(kv: Deno.Kv): Promise<void> {
  const marker = await withKvRetry(() => kv.get<number>(FORMAT_KEY));
  if (marker.value === BLOCK_FORMAT) return;
  // A commit fails its check only when another process converted some of the same entries; scanning again
  // picks up whatever neither finished.
  while (await convertOnce(kv) > 0) { /* again */ }
  await withKvRetry(() => kv.set(FORMAT_KEY, BLOCK_FORMAT));
}

/** One pass over the legacy entries; returns how many block commits lost a race. */
async function convertOnce(kv: Deno.Kv): Promise<number> {
  let lost = 0;
  let run: Deno.KvEntry<LegacyEntry>[] = [];
  let runBytes = 0;
  const commitRun = async (entries: Deno.KvEntry<LegacyEntry>[]): Promise<void> => {
    const stream = entries[0].key[1] as string;
    const records = entries.map((e) => e.value);
    const op = kv.atomic();
    for (const e of entries) op.check(e).delete(e.key);
    op.set(blockKey(stream, records[0].seq), makeBlock(records[0].seq, records[0].ts, records));
    try {
      if (!(await withKvRetry(() => op.commit())).ok) lost++;
    } catch (err) {
      if (!isValueTooLarge(err) || entries.length === 1) throw err;
      const half = entries.length >> 1;
      await commitRun(entries.slice(0, half));
      await commitRun(entries.slice(half));
    }
  };
  for await (const e of kv.list<LegacyEntry>({ prefix: ["stream"] })) {
    if (e.key[2] !== "e") continue;
    const size = JSON.stringify(e.value.value)?.length ?? 0;
    const prev = run.at(-1);
    const continues = prev !== undefined && prev.key[1] === e.key[1] && prev.value.seq + 1 === e.value.seq &&
      prev.value.ts === e.value.ts && run.length < BLOCK_RECORDS && runBytes + size <= BLOCK_BYTES;
    if (!continues && run.length > 0) {
      await commitRun(run);
      run = [];
      runBytes = 0;
    }
    run.push(e as Deno.KvEntry<LegacyEntry>);
    runBytes += size;
  }
  if (run.length > 0) await commitRun(run);
  return lost;
}

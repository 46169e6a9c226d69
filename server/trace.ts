/**
 * The debug trace: one JSON line `{ts, method, path, status, ms}` per request in
 * `<workspace>/.dspy_reports/server_trace.log`. Lines are buffered and written in batches (one append per
 * flush, not per request), the file is rotated to `server_trace.log.1` when it passes a size limit, and
 * listeners (the trace SSE streams) get new records in small batches, already formatted as SSE frames once
 * for all of them, so many open trace streams cost little per request. Every record gets an id
 * `BOOT-SEQ` (BOOT names this server process, SEQ counts its requests) and the newest ones stay in memory, so
 * a trace stream that reconnects with `Last-Event-ID` gets exactly what it missed. `clear()` truncates the
 * file.
 *
 * {@link TraceLog.add} is on every request, so it only stores the record in preallocated columns (typed
 * arrays, and paths shared through a small intern table): nothing per request survives into the garbage
 * collector's old generation. The file lines are formatted later, a batch at a time, as bytes straight into
 * a reused buffer (ts in whole milliseconds, ms in whole microseconds), and two such buffers take turns, one
 * filling while the other is written. Record objects are made only when a stream asks for them.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { appendConfined, checkNoSymlinkBelow, openConfined } from "../core/confined.ts";
import { readJsonlTail } from "../core/jsonl.ts";
import { formatSse } from "./sse.ts";

/** One trace record. */
export interface TraceRecord {
  /** Seconds since the epoch. */
  ts: number;
  method: string;
  path: string;
  status: number;
  /** Handler time in milliseconds. */
  ms: number;
}

/** Options for {@link TraceLog}. */
export interface TraceLogOptions {
  /** The reports directory (`.dspy_reports`). */
  dir: string;
  /** Rotate when the file passes this many bytes (default 5 MiB). */
  maxBytes?: number;
  /** Flush buffered lines after this many ms (default 100). */
  flushMs?: number;
  /** Write to disk (default true). Listeners are told either way. */
  enabled?: boolean;
  /** Deliver batches to listeners every this many ms (default 50). */
  batchMs?: number;
  /**
   * At most this many records per batch go to live listeners (default 50, i.e. 1,000/s per stream, more
   * than a live view can show; each stream's share of a request's cost grows with it); under heavier load
   * the newest are kept and the rest are reported as skipped. The file always gets every record.
   */
  maxBatch?: number;
  /** How many recent records stay in memory for resuming streams (default 2000). */
  recentCapacity?: number;
}

/** A trace record with its process-wide sequence number. */
export type SeqTraceRecord = TraceRecord & { seq: number };

/** A batch of new records for trace listeners. */
export interface TraceBatch {
  /** The records, oldest first, each with its process-wide sequence number. */
  records: (TraceRecord & { seq: number })[];
  /** The same records as `trace` SSE frames (id = `BOOT-SEQ`), encoded once for every listener. */
  frames: Uint8Array;
  /** Records left out of this batch because of the live rate cap. */
  skipped: number;
}

const encoder = new TextEncoder();
const TS = encoder.encode('{"ts":');
const METHOD = encoder.encode(',"method":');
const PATH = encoder.encode(',"path":');
const STATUS = encoder.encode(',"status":');
const MS = encoder.encode(',"ms":');

/** The trace file writer. */
export class TraceLog {
  /** Absolute path of the trace file. */
  readonly file: string;
  /** Whether records are written to disk. */
  readonly enabled: boolean;
  #maxBytes: number;
  #flushMs: number;
  /** Encoded lines not yet written: `#out[0, #outLen)`. */
  #out: Uint8Array<ArrayBuffer> = new Uint8Array(64 * 1024);
  #outLen = 0;
  /**
   * The other line buffer, when no write holds it. A flush hands `#out` itself to the write and carries on
   * in this one, so no buffer is allocated and copied per flush.
   */
  #spare: Uint8Array<ArrayBuffer> | null = null;
  /** Bytes in the file as far as this writer knows (null: not read yet). */
  #fileBytes: number | null = null;
  #dirReady = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #listeners = new Set<(batch: TraceBatch) => void>();
  #closed = false;
  #seq = 0;
  /** Sequence number of the newest record whose line is in the write buffer (or was not to be written). */
  #formatted = 0;
  /** Format the waiting lines once this many records wait (half the ring: none is overwritten first). */
  #formatEvery: number;
  /** First sequence number of the batch the listeners have not had yet (0: none pending). */
  #batchFrom = 0;
  #batchMs: number;
  #maxBatch: number;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  // The newest records, as columns of a ring indexed by seq % capacity.
  #cap: number;
  #ts: Float64Array;
  #ms: Float64Array;
  #status: Uint16Array;
  #method: string[];
  #path: string[];
  /** Paths seen so far (bounded), so the ring holds shared strings instead of one per request. */
  #interned = new Map<string, string>();
  /** Names this process's sequence (ids from an earlier server run never match). */
  readonly boot: string = Date.now().toString(36) + Math.floor(Math.random() * 1296).toString(36);

  constructor(options: TraceLogOptions) {
    this.file = join(options.dir, "server_trace.log");
    this.enabled = options.enabled ?? true;
    this.#maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    this.#flushMs = options.flushMs ?? 100;
    this.#batchMs = options.batchMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 50;
    this.#cap = Math.max(1, options.recentCapacity ?? 2000);
    this.#formatEvery = Math.max(1, Math.floor(this.#cap / 2));
    this.#ts = new Float64Array(this.#cap);
    this.#ms = new Float64Array(this.#cap);
    this.#status = new Uint16Array(this.#cap);
    this.#method = new Array(this.#cap).fill("");
    this.#path = new Array(this.#cap).fill("");
  }

  /** Sequence number of the newest record (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** The SSE id of a sequence number. */
  idOf(seq: number): string {
    return `${this.boot}-${seq}`;
  }

  /** The sequence number in an id this process issued, or null (another run, or not an id). */
  parseId(id: string): number | null {
    const dash = id.lastIndexOf("-");
    if (dash < 0 || id.slice(0, dash) !== this.boot) return null;
    const seq = Number(id.slice(dash + 1));
    return Number.isSafeInteger(seq) && seq >= 0 && seq <= this.#seq ? seq : null;
  }

  /**
   * The records after `seq`, oldest first, when every one of them is still in memory; null when some
   * were already dropped (the caller falls back to a plain replay).
   */
  since(seq: number): SeqTraceRecord[] | null {
    if (seq > this.#seq || this.#seq - seq > this.#cap) return null;
    return this.#range(seq + 1, this.#seq);
  }

  /** The newest `n` records still in memory, oldest first. */
  recent(n: number): SeqTraceRecord[] {
    const from = Math.max(0, this.#seq - Math.min(n, this.#cap));
    return this.since(from) ?? [];
  }

  /** Records `from..to` (inclusive) from the ring, which must still hold them. */
  #range(from: number, to: number): SeqTraceRecord[] {
    const out: SeqTraceRecord[] = [];
    for (let n = from; n <= to; n++) {
      const i = n % this.#cap;
      out.push({
        ts: this.#ts[i],
        method: this.#method[i],
        path: this.#path[i],
        status: this.#status[i],
        ms: this.#ms[i],
        seq: n,
      });
    }
    return out;
  }

  /** Records one request. */
  record(rec: TraceRecord): void {
    this.add(rec.ts, rec.method, rec.path, rec.status, rec.ms);
  }

  /**
   * Records one request from its fields (the per-request path: see the module comment). The record goes
   * into the ring's columns only; its file line is formatted later, with the others of its batch, when the
   * trace flushes or when half the ring is waiting (so no record leaves the ring before it is written).
   */
  add(ts: number, method: string, path: string, status: number, ms: number): void {
    const seq = ++this.#seq;
    const i = seq % this.#cap;
    let shared = this.#interned.get(path);
    if (shared === undefined) {
      shared = path;
      if (this.#interned.size < 1024) this.#interned.set(path, path);
    }
    this.#ts[i] = ts;
    this.#ms[i] = ms;
    this.#status[i] = status;
    this.#method[i] = method;
    this.#path[i] = shared;
    if (this.#listeners.size > 0) {
      if (this.#batchFrom === 0) this.#batchFrom = seq;
      this.#batchTimer ??= setTimeout(() => this.#deliver(), this.#batchMs);
    }
    if (!this.enabled || this.#closed) {
      this.#formatted = seq;
      return;
    }
    if (seq - this.#formatted >= this.#formatEvery) this.#formatPending();
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), this.#flushMs);
  }

  /** Formats the file lines of the records added since the last call into the write buffer. */
  #formatPending(): void {
    for (let n = this.#formatted + 1; n <= this.#seq; n++) {
      const i = n % this.#cap;
      this.#writeLine(this.#ts[i], this.#method[i], this.#path[i], this.#status[i], this.#ms[i]);
    }
    this.#formatted = this.#seq;
  }

  /** Appends `{"ts":…,"method":…,"path":…,"status":…,"ms":…}\n` to the byte buffer, allocation-free. */
  #writeLine(ts: number, method: string, path: string, status: number, ms: number): void {
    // Room for the fixed parts, the numbers, and the strings even if every character needs \uXXXX.
    const need = 96 + 6 * (method.length + path.length);
    if (this.#outLen + need > this.#out.length) {
      const next = new Uint8Array(Math.max(this.#out.length * 2, this.#outLen + need));
      next.set(this.#out.subarray(0, this.#outLen));
      this.#out = next;
    }
    const tsMs = Math.round(ts * 1000);
    const micros = Math.round(ms * 1000);
    if (!(tsMs >= 0 && micros >= 0 && tsMs <= Number.MAX_SAFE_INTEGER && micros <= Number.MAX_SAFE_INTEGER)) {
      // Not from a clock (a test or a caller's own record): let JSON spell the numbers.
      this.#writeText(
        `{"ts":${JSON.stringify(ts)},"method":${JSON.stringify(method)},"path":${
          JSON.stringify(path)
        },"status":${status},"ms":${JSON.stringify(ms)}}\n`,
      );
      return;
    }
    this.#bytes(TS);
    this.#milli(tsMs);
    this.#bytes(METHOD);
    this.#string(method);
    this.#bytes(PATH);
    this.#string(path);
    this.#bytes(STATUS);
    this.#uint(status);
    this.#bytes(MS);
    this.#milli(micros);
    this.#out[this.#outLen++] = 0x7d; // }
    this.#out[this.#outLen++] = 0x0a; // \n
  }

  #bytes(b: Uint8Array): void {
    this.#out.set(b, this.#outLen);
    this.#outLen += b.length;
  }

  #uint(n: number): void {
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    let at = this.#outLen + digits;
    this.#outLen = at;
    do {
      this.#out[--at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  /** `n / 1000` with exactly three decimals (a valid JSON number). */
  #milli(n: number): void {
    const whole = Math.floor(n / 1000);
    const frac = n - whole * 1000;
    this.#uint(whole);
    const o = this.#out;
    let at = this.#outLen;
    o[at++] = 0x2e; // .
    o[at++] = 0x30 + Math.floor(frac / 100);
    o[at++] = 0x30 + (Math.floor(frac / 10) % 10);
    o[at++] = 0x30 + (frac % 10);
    this.#outLen = at;
  }

  /** A JSON string: plain printable ASCII byte by byte, anything else through JSON.stringify. */
  #string(s: string): void {
    const o = this.#out;
    const start = this.#outLen;
    let at = start;
    o[at++] = 0x22;
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.#outLen = start;
        this.#writeText(JSON.stringify(s));
        return;
      }
      o[at++] = c;
    }
    o[at++] = 0x22;
    this.#outLen = at;
  }

  #writeText(text: string): void {
    const need = 3 * text.length;
    if (this.#outLen + need > this.#out.length) {
      const next = new Uint8Array(Math.max(this.#out.length * 2, this.#outLen + need));
      next.set(this.#out.subarray(0, this.#outLen));
      this.#out = next;
    }
    this.#outLen += encoder.encodeInto(text, this.#out.subarray(this.#outLen)).written;
  }

  #deliver(): void {
    this.#batchTimer = undefined;
    const from = this.#batchFrom;
    this.#batchFrom = 0;
    if (from === 0 || this.#listeners.size === 0) return;
    const to = this.#seq;
    const keep = Math.min(to - from + 1, this.#maxBatch, this.#cap);
    const skipped = to - from + 1 - keep;
    const records = this.#range(to - keep + 1, to);
    let text = skipped ? formatSse({ event: "skipped", data: { count: skipped } }) : "";
    for (const r of records) {
      const { seq, ...rec } = r;
      text += formatSse({ event: "trace", id: this.idOf(seq), data: rec });
    }
    const batch = { records, frames: encoder.encode(text), skipped };
    for (const fn of this.#listeners) {
      try {
        fn(batch);
      } catch { /* a listener's failure must not affect the others */ }
    }
  }

  /** Subscribes to new records (delivered in batches); returns the unsubscribe function. */
  listen(fn: (batch: TraceBatch) => void): () => void {
    this.#listeners.add(fn);
    return () => {
      this.#listeners.delete(fn);
    };
  }

  /** Writes buffered lines now. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.enabled && !this.#closed) this.#formatPending();
    if (this.#outLen === 0) return this.#writing;
    const full = this.#out;
    const bytes = full.subarray(0, this.#outLen);
    this.#out = this.#spare ?? new Uint8Array(full.length);
    this.#spare = null;
    this.#outLen = 0;
    this.#writing = this.#writing.then(() => this.#write(bytes)).catch((err) => {
      this.#dirReady = false;
      this.#fileBytes = null;
      console.error(`warning: could not write the server trace: ${err?.message ?? err}`);
    }).finally(() => {
      // Written (or given up on): its buffer can take lines again.
      if (this.#spare === null || this.#spare.length < full.length) this.#spare = full;
    });
    return this.#writing;
  }

  /** The workspace the trace folder belongs to: writes and reads stay inside it (`core/confined.ts`). */
  get #root(): string {
    return dirname(dirname(this.file));
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (!this.#dirReady) {
      await Deno.mkdir(dirname(this.file), { recursive: true });
      this.#dirReady = true;
    }
    this.#fileBytes ??= await this.bytes();
    if (this.#fileBytes > 0 && this.#fileBytes + bytes.length > this.#maxBytes) {
      await Deno.rename(this.file, this.file + ".1").catch(() => {});
      this.#fileBytes = 0;
    }
    // Never through a planted symlink (a hostile repository could point the log at a file elsewhere).
    await appendConfined(this.#root, this.file, bytes);
    this.#fileBytes += bytes.length;
  }

  /** Current size of the trace file in bytes (0 when missing). */
  async bytes(): Promise<number> {
    try {
      return (await Deno.lstat(this.file)).size;
    } catch {
      return 0;
    }
  }

  /** Truncates the trace file (and its rotated copy) and drops buffered lines. */
  async clear(): Promise<void> {
    this.#outLen = 0;
    this.#formatted = this.#seq;
    await this.#writing;
    this.#fileBytes = null;
    await Deno.remove(this.file + ".1").catch(() => {});
    try {
      await checkNoSymlinkBelow(this.#root, this.file); // truncating through a link would empty its target
      await Deno.truncate(this.file, 0);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** The last `n` records on disk (after flushing), oldest first. Lines that are not JSON are skipped. */
  async tail(n: number): Promise<TraceRecord[]> {
    await this.flush();
    try {
      // Confined: a regular file inside the workspace, never through a symlink out of it.
      (await openConfined(this.#root, this.file)).file.close();
      return await readJsonlTail<TraceRecord>(this.file, n);
    } catch {
      return []; // unreadable trace file: nothing to show
    }
  }

  /** Flushes and stops writing. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#batchTimer !== undefined) clearTimeout(this.#batchTimer);
    this.#batchFrom = 0;
    this.#listeners.clear();
  }
}

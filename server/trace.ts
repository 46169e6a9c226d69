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
 * @module
 */

import { dirname, join } from "node:path";
import { appendConfined, checkNoSymlinkBelow, openConfined } from "../core/confined.ts";
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
   * At most this many records per batch go to live listeners (default 250, i.e. 5,000/s); under heavier
   * load the newest are kept and the rest are reported as skipped. The file always gets every record.
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

/** The trace file writer. */
export class TraceLog {
  /** Absolute path of the trace file. */
  readonly file: string;
  /** Whether records are written to disk. */
  readonly enabled: boolean;
  #maxBytes: number;
  #flushMs: number;
  #buffer: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #listeners = new Set<(batch: TraceBatch) => void>();
  #closed = false;
  #seq = 0;
  #batch: (TraceRecord & { seq: number })[] = [];
  #batchMs: number;
  #maxBatch: number;
  #skipped = 0;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #recent: (SeqTraceRecord | undefined)[];
  /** Names this process's sequence (ids from an earlier server run never match). */
  readonly boot: string = Date.now().toString(36) + Math.floor(Math.random() * 1296).toString(36);

  constructor(options: TraceLogOptions) {
    this.file = join(options.dir, "server_trace.log");
    this.enabled = options.enabled ?? true;
    this.#maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    this.#flushMs = options.flushMs ?? 100;
    this.#batchMs = options.batchMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 250;
    this.#recent = new Array(Math.max(1, options.recentCapacity ?? 2000));
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
    const cap = this.#recent.length;
    if (seq > this.#seq || this.#seq - seq > cap) return null;
    const out: SeqTraceRecord[] = [];
    for (let n = seq + 1; n <= this.#seq; n++) out.push(this.#recent[n % cap]!);
    return out;
  }

  /** The newest `n` records still in memory, oldest first. */
  recent(n: number): SeqTraceRecord[] {
    const from = Math.max(0, this.#seq - Math.min(n, this.#recent.length));
    return this.since(from) ?? [];
  }

  /** Records one request. */
  record(rec: TraceRecord): void {
    this.add(rec.ts, rec.method, rec.path, rec.status, rec.ms);
  }

  /** Records one request from its fields (the per-request path: no intermediate object). */
  add(ts: number, method: string, path: string, status: number, ms: number): void {
    const rec = { ts, method, path, status, ms, seq: ++this.#seq };
    this.#recent[rec.seq % this.#recent.length] = rec;
    if (this.#listeners.size > 0) {
      this.#batch.push(rec);
      if (this.#batch.length > 2 * this.#maxBatch) {
        const drop = this.#batch.length - this.#maxBatch;
        this.#batch.splice(0, drop);
        this.#skipped += drop;
      }
      this.#batchTimer ??= setTimeout(() => this.#deliver(), this.#batchMs);
    }
    if (!this.enabled || this.#closed) return;
    // Hand-built line (same output as JSON.stringify for these fields, cheaper on every request).
    this.#buffer.push(
      `{"ts":${ts},"method":${JSON.stringify(method)},"path":${
        JSON.stringify(path)
      },"status":${status},"ms":${ms}}\n`,
    );
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), this.#flushMs);
  }

  #deliver(): void {
    this.#batchTimer = undefined;
    let records = this.#batch;
    this.#batch = [];
    let skipped = this.#skipped;
    this.#skipped = 0;
    if (records.length > this.#maxBatch) {
      skipped += records.length - this.#maxBatch;
      records = records.slice(-this.#maxBatch);
    }
    if (records.length === 0 || this.#listeners.size === 0) return;
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
    const lines = this.#buffer;
    this.#buffer = [];
    if (lines.length === 0) return this.#writing;
    this.#writing = this.#writing.then(() => this.#write(lines.join(""))).catch((err) => {
      console.error(`warning: could not write the server trace: ${err?.message ?? err}`);
    });
    return this.#writing;
  }

  /** The workspace the trace folder belongs to: writes and reads stay inside it (`core/confined.ts`). */
  get #root(): string {
    return dirname(dirname(this.file));
  }

  async #write(text: string): Promise<void> {
    const size = await this.bytes();
    if (size > 0 && size + text.length > this.#maxBytes) {
      await Deno.rename(this.file, this.file + ".1").catch(() => {});
    }
    // Never through a planted symlink (a hostile repository could point the log at a file elsewhere).
    await appendConfined(this.#root, this.file, encoder.encode(text));
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
    this.#buffer = [];
    await this.#writing;
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
    let text: string;
    try {
      const { file, info } = await openConfined(this.#root, this.file);
      try {
        const size = info.size;
        const want = Math.min(size, Math.max(4096, n * 256));
        await file.seek(size - want, Deno.SeekMode.Start);
        const buf = new Uint8Array(want);
        let off = 0;
        while (off < want) {
          const got = await file.read(buf.subarray(off));
          if (got === null) break;
          off += got;
        }
        text = new TextDecoder().decode(buf.subarray(0, off));
        if (want < size) text = text.slice(text.indexOf("\n") + 1); // drop the partial first line
      } finally {
        file.close();
      }
    } catch {
      return [];
    }
    const out: TraceRecord[] = [];
    for (const line of text.split("\n").slice(-n - 1)) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line));
      } catch { /* a torn or foreign line */ }
    }
    return out.slice(-n);
  }

  /** Flushes and stops writing. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#batchTimer !== undefined) clearTimeout(this.#batchTimer);
    this.#batch = [];
    this.#listeners.clear();
  }
}

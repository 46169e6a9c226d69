/**
 * The embed worker: the stream stage between `embedding_input` and the vector store. It joins the input
 * topic's consumer group (a durable local topic, or Kafka — then it is one member of a Kafka group and N
 * workers share the partitions), collects batches (`batchSize` records, or whatever arrived when
 * `maxWaitSec` passes — a timer flushes the tail, unlike the old worker that waited for the next message),
 * embeds the texts missing from the LRU cache, upserts the records into the store, publishes output records,
 * and only then acknowledges the batch. Commits run beside the pipeline, one at a time, each covering every
 * batch acknowledged when it starts. So a worker killed with SIGKILL redelivers at most its unacknowledged
 * batches and the (at most 17) acknowledged since its last finished commit, and the upsert by `doc_id` makes
 * the redelivery harmless.
 *
 * A batch that cannot be embedded after the backend's retries goes to the dead-letter queue, one record per
 * message, with `reason: "embedding_failed"` and the error (and records that are not records with
 * `invalid_record`): `dlq replay --topic embedding_input` resends them. Failures are never cached.
 *
 * @module
 */

import {
  type Bus,
  type BusMessage,
  durableStatus,
  type GroupMember,
  type KafkaSettings,
  resolveKafkaSettings,
} from "../bus/mod.ts";
import type { KafkaLagProbe } from "./kafka_lag.ts";
import type { Embedder } from "./embedder.ts";
import { normalize } from "./embedder.ts";
import { cacheSlot, VectorCache } from "./lru_cache.ts";
import { type InputRecord, type OutputRecord, parseInputRecord, vectorToJson } from "./records.ts";
import { openStoreWriter, StoreMismatchError, type StoreWriter } from "./store.ts";
import type { LocalEmbedder } from "./local_embedder.ts";
import type { StoreSink } from "./store_sink.ts";
import { type EmbedWorkerMetrics, writeWorkerMetrics } from "./worker_metrics.ts";

/** Default topic and group names (env `EMBED_INPUT_TOPIC`, `EMBED_OUTPUT_TOPIC`, `EMBED_GROUP`). */
export const EMBED_DEFAULTS = { input: "embedding_input", output: "embeddings", group: "embed-worker" };

/** Options for {@link runEmbedWorker}. */
export interface EmbedWorkerOptions {
  /** The bus (local with a workspace, or Kafka). */
  bus: Bus;
  /** Workspace whose store and reports the worker writes. */
  workspace: string;
  embedder: Embedder;
  /** Recorded in the store so searches re-create the embedder. */
  modelPath?: string;
  url?: string;
  inputTopic?: string;
  outputTopic?: string;
  group?: string;
  /** Records per batch (default 64). */
  batchSize?: number;
  /** Flush a partial batch after this many seconds (default 0.5). */
  maxWaitSec?: number;
  /**
   * Batches embedded beyond the one being finished (default by set-up, see AHEAD below); the benchmarks
   * set it to compare depths.
   */
  ahead?: number;
  /** L2-normalise vectors (`EMBED_NORMALIZE`). */
  normalize?: boolean;
  /** LRU entries (default 10,000; 0 disables). */
  cacheMax?: number;
  /** Cache time to live in seconds (default 300; 0 = none). */
  cacheTtlSec?: number;
  /** Stop after this many seconds with nothing to do. */
  exitWhenIdleSec?: number;
  /** Stop when aborted (SIGINT/SIGTERM): the current batch finishes first. */
  signal?: AbortSignal;
  /** Seconds between metrics snapshots (default 1; 0 disables writing). */
  metricsIntervalSec?: number;
  /** Called after each batch. */
  onBatch?: (m: EmbedWorkerMetrics) => void;
  /** Kafka settings for the idle check's lag probe (default from the environment). */
  kafka?: Partial<KafkaSettings>;
}

/** What a finished worker reports. */
export interface EmbedWorkerResult {
  metrics: EmbedWorkerMetrics;
  /** Why it stopped. */
  reason: "idle" | "signal" | "closed";
}

/**
 * Waits for `p`, at most `ms` (then "timeout"), or until `signal` aborts ("abort"). The timer and the abort
 * listener are removed when it settles: racing a long-lived promise on every batch would pile up reactions
 * that keep each batch's messages reachable (a leak that grew RSS by the megabyte).
 */
function within<T>(p: Promise<T>, ms: number | null, signal?: AbortSignal): Promise<T | "timeout" | "abort"> {
  if (signal?.aborted) return Promise.resolve("abort");
  return new Promise((resolve, reject) => {
    const timer = ms === null ? null : setTimeout(() => done("timeout"), ms);
    const onAbort = () => done("abort");
    signal?.addEventListener("abort", onAbort, { once: true });
    let settled = false;
    function done(v: T | "timeout" | "abort") {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(v);
    }
    p.then(done, (err) => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}

/**
 * Batches parsed and embedded beyond the one being finished (see the main loop); with a model thread
 * (a store sink), batches handed to the thread beyond the one being finished. Finishing (store write,
 * acknowledgement) stays one batch at a time, in order. The thread's replies cross threads and take a
 * while to be seen, so it gets more: 32 (`bench/embed_stages_bench.ts --thread-ahead 8,32,64`, 100,000
 * records on 2 cores: 81k / 109k / 113k records/s, and the process's CPU a record fell from 20.5 to 15.6
 * µs; 8 had beaten 2 and 4 while onnxruntime's idle threads still spun). A local model on the main thread
 * gets 1: its calls run on onnxruntime's threads and more of them at once only compete for the cores with
 * the thread that finishes batches (`bench/embed_stages_bench.ts` runs the worker 1, 2 and 4 ahead; before
 * durable topics read in blocks, 4 had beaten 2, 67k against 57k records/s, when reading the topic was most
 * of the main thread's work). Other embedders keep 4: InferMesh waits on the network, where batches in
 * flight overlap, and the hash embedder showed no difference.
 */
const AHEAD = 4;
const AHEAD_LOCAL_MAIN_THREAD = 1;
const AHEAD_SINK = 32;

/**
 * A finished batch waits for the commit in flight while more than this many batches are stored and
 * acknowledged past the last finished commit (the commit runs beside the pipeline, see finishBatch); so at
 * most 17 acknowledged batches are not yet committed. A crash repeats those, plus, with a model thread, the
 * up to AHEAD_SINK + 1 batches the thread stored before the worker acknowledged them.
 */
const MAX_UNCOMMITTED = 16;

/**
 * Runs the worker until it is idle for `exitWhenIdleSec`, the signal aborts, or the subscription closes.
 *
 * @example
 * ```ts
 * const bus = await startBus({ workspace });
 * const r = await runEmbedWorker({ bus, workspace, embedder: createHashEmbedder(), exitWhenIdleSec: 2 });
 * await bus.close();
 * ```
 */
export async function runEmbedWorker(options: EmbedWorkerOptions): Promise<EmbedWorkerResult> {
  const { bus, workspace, embedder } = options;
  const inputTopic = options.inputTopic ?? EMBED_DEFAULTS.input;
  const outputTopic = options.outputTopic ?? EMBED_DEFAULTS.output;
  const group = options.group ?? EMBED_DEFAULTS.group;
  const batchSize = Math.max(1, options.batchSize ?? 64);
  const maxWaitMs = Math.max(0, (options.maxWaitSec ?? 0.5) * 1000);
  const cache = new VectorCache(options.cacheMax ?? 10_000, options.cacheTtlSec ?? 300);
  const normalized = options.normalize === true || embedder.backend === "hash" ||
    embedder.backend === "local" || embedder.backend === "use";
  const worker = `w${Date.now().toString(36)}-${Deno.pid}`;
  if (bus.backend === "local") await bus.configureTopic(inputTopic, { durable: true });
  const store: StoreWriter = await openStoreWriter(workspace, {
    model: embedder.model,
    backend: embedder.backend,
    normalized,
    modelPath: options.modelPath,
    url: options.url,
  });
  // A local model on its own thread stores there too (see store_sink.ts); any other embedder is called from
  // here and its batches are stored here.
  const sink: StoreSink | null = (embedder as LocalEmbedder).openStoreSink
    ? await (embedder as LocalEmbedder).openStoreSink!({
      workspace,
      model: embedder.model,
      backend: embedder.backend,
      normalized,
      modelPath: options.modelPath,
      normalize: options.normalize === true,
      cacheMax: options.cacheMax ?? 10_000,
      cacheTtlSec: options.cacheTtlSec ?? 300,
    })
    : null;
  const ahead = Math.max(
    0,
    options.ahead ?? (sink ? AHEAD_SINK : embedder.backend === "local" ? AHEAD_LOCAL_MAIN_THREAD : AHEAD),
  );
  const metrics: EmbedWorkerMetrics = {
    worker,
    pid: Deno.pid,
    topic: inputTopic,
    group,
    model: embedder.model,
    backend: embedder.backend,
    started_ts: Date.now() / 1000,
    ts: Date.now() / 1000,
    stopped: false,
    records_in: 0,
    records_out: 0,
    batches: 0,
    cache_hits: 0,
    last_rtt_ms: 0,
    failures: 0,
    dlq_records: 0,
    lag: 0,
    last_flush_ts: null,
    rss_bytes: 0,
    heap_used_bytes: 0,
  };
  const intervalSec = options.metricsIntervalSec ?? 1;
  let writing: Promise<void> = Promise.resolve();
  const snapshot = () => {
    metrics.ts = Date.now() / 1000;
    const mem = Deno.memoryUsage();
    metrics.rss_bytes = mem.rss;
    metrics.heap_used_bytes = mem.heapUsed;
    metrics.lag = bus.metrics().groups[inputTopic]?.[group]?.lag ?? metrics.lag;
    if (intervalSec > 0) {
      const copy = { ...metrics };
      writing = writing.then(() => writeWorkerMetrics(workspace, copy)).catch(() => {});
    }
  };
  const timer = intervalSec > 0 ? setInterval(snapshot, intervalSec * 1000) : null;
  snapshot();

  const member: GroupMember = bus.subscribeGroup(inputTopic, group, {
    ack: "manual",
    // Room for the batches in flight (unacknowledged) and as much again queued, so the durable reader reads
    // ahead in pages instead of a batch at a time as acknowledgements free room.
    maxsize: Math.max(2000, batchSize * 2 * (ahead + 1)),
    from: "earliest",
  });
  const deadLetter = (msg: BusMessage, reason: string, error: string) => {
    const input = {
      topic: msg.topic,
      group,
      reason,
      message: msg.value,
      message_id: msg.id,
      key: msg.key,
      attempts: msg.attempt,
      error,
    };
    bus.deadLetterRecord(input);
    metrics.dlq_records++;
  };

  // Commits: at most one in flight, each covering every batch acknowledged when it starts (see finishBatch).
  let acked = 0; // batches acknowledged so far
  let committedUpTo = 0; // of those, how many the last finished commit covered
  let committing: Promise<void> | null = null;
  const commitAcked = (): void => {
    if (committing !== null || committedUpTo >= acked) return;
    committing = (async () => {
      try {
        while (committedUpTo < acked) {
          const upTo = acked;
          await member.commit().catch(() => {}); // a failed commit is retried by the next one
          committedUpTo = upTo;
        }
      } finally {
        committing = null;
      }
    })();
  };
  type Item = { msg: BusMessage; rec: InputRecord; ns?: string; key?: string; vec?: Float32Array };
  // Output records only when something can receive them (decided per batch, when it starts).
  const wantOutputs = () => bus.isDurable(outputTopic) || bus.hasReceivers?.(outputTopic) !== false;

  /**
   * Parses the batch and starts its embedding at once: while the previous batch's model call still runs,
   * this one is already queued behind it (a model thread then goes from one call to the next without
   * waiting for a message). With a store sink the thread also looks the texts up in its cache and stores
   * the batch; otherwise the cache is looked up here and the batch is stored when it is finished.
   */
  const startBatch = (msgs: BusMessage[]) => {
    metrics.records_in += msgs.length;
    const valid: Item[] = [];
    let dead = 0;
    for (const msg of msgs) {
      const rec = parseInputRecord(msg.value);
      if (typeof rec === "string") {
        deadLetter(msg, "invalid_record", rec);
        dead++;
        continue;
      }
      if (sink) {
        valid.push({ msg, rec });
        continue;
      }
      const [ns, key] = cacheSlot(embedder.model, rec.text);
      const vec = cache.get(ns, key);
      if (vec) metrics.cache_hits++;
      valid.push({ msg, rec, ns, key, vec });
    }
    const outputs = wantOutputs();
    if (sink) {
      const sunk = valid.length === 0 ? null : sink.process({
        texts: valid.map((v) => v.rec.text),
        docIds: valid.map((v) => v.rec.doc_id),
        topics: valid.map((v) => v.rec.topic ?? v.msg.topic),
        kafkaTs: valid.map((v) => v.rec.kafka_ts ?? v.msg.ts / 1000),
        wantVectors: outputs,
      });
      sunk?.catch(() => {}); // awaited in finishBatch; this only keeps it from counting as unhandled
      return { msgs, valid, todo: [] as Item[], dead, outputs, embedded: Promise.resolve(null), sunk };
    }
    const todo = valid.filter((v) => v.vec === undefined);
    const embedded: Promise<string | null> = todo.length === 0 ? Promise.resolve(null) : (async () => {
      const started = performance.now();
      try {
        const vecs = await embedder.embed(todo.map((t) => t.rec.text), { kind: "document" });
        if (vecs.length !== todo.length) {
          throw new Error(`the embedder returned ${vecs.length} vectors for ${todo.length} texts`);
        }
        const out = vecs.map((v) => options.normalize ? normalize(v) : v);
        if (out.some((v) => v.length === 0)) throw new Error("the embedder returned an empty vector");
        todo.forEach((t, i) => (t.vec = out[i]));
        for (const t of todo) cache.set(t.ns!, t.key!, t.vec!);
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      } finally {
        metrics.last_rtt_ms = Math.round((performance.now() - started) * 100) / 100;
      }
    })();
    return { msgs, valid, todo, dead, outputs, embedded, sunk: null };
  };

  /** Waits for the model call and the store write, publishes, and only then acknowledges the batch. */
  const finishBatch = async (job: ReturnType<typeof startBatch>) => {
    const { msgs, valid, todo } = job;
    let dead = job.dead;
    let ok = valid;
    let now = Date.now() / 1000;
    if (job.sunk) {
      // The thread has looked up, embedded and stored the batch (or says which records it could not embed).
      const r = await job.sunk;
      if (r.fatal) {
        throw r.fatal.name === "StoreMismatchError"
          ? new StoreMismatchError(r.fatal.message)
          : new Error(`the vector store write failed: ${r.fatal.message}`);
      }
      metrics.cache_hits += r.hits;
      if (r.rttMs > 0) metrics.last_rtt_ms = r.rttMs;
      now = r.embeddedTs;
      if (r.error !== null) {
        metrics.failures++;
        const failed = new Set(r.failed);
        for (const i of r.failed) {
          deadLetter(valid[i].msg, "embedding_failed", r.error);
          dead++;
        }
        ok = valid.filter((_, i) => !failed.has(i));
      }
      if (r.vectors) valid.forEach((v, i) => (v.vec = r.vectors!.subarray(i * r.dim, (i + 1) * r.dim)));
    } else {
      const failed = await job.embedded;
      if (failed !== null) {
        metrics.failures++;
        for (const t of todo) {
          deadLetter(t.msg, "embedding_failed", failed);
          dead++;
        }
        ok = valid.filter((v) => v.vec !== undefined);
      }
      if (ok.length > 0) {
        await store.upsert(ok.map((v) => ({
          doc_id: v.rec.doc_id,
          text: v.rec.text,
          vector: v.vec!,
          topic: v.rec.topic ?? v.msg.topic,
          kafka_ts: v.rec.kafka_ts ?? v.msg.ts / 1000,
          embedded_ts: now,
        })));
      }
    }
    // Downstream consumers get the old worker's record; skipped when nothing could receive it.
    if (ok.length > 0 && job.outputs) {
      const pubs: Promise<void>[] = [];
      for (const v of ok) {
        if (!v.vec) continue;
        const out: OutputRecord = {
          topic: v.rec.topic ?? v.msg.topic,
          text: v.rec.text,
          doc_id: v.rec.doc_id,
          vector: vectorToJson(v.vec),
          kafka_ts: v.rec.kafka_ts ?? v.msg.ts / 1000,
          embedded_ts: now,
          model: embedder.model,
          dim: v.vec.length,
          normalized,
        };
        const p = bus.publish(outputTopic, out, { key: v.rec.doc_id });
        if (p) pubs.push(p);
      }
      await Promise.all(pubs);
    }
    metrics.records_out += ok.length;
    // Dead letters are written before the offsets move past them.
    if (dead > 0) await bus.flush();
    // Acknowledged only now, after the store write: the offset can never pass a record that is not stored.
    // The commit runs beside the next batches instead of holding them up: one commit at a time, each
    // covering every batch acknowledged when it starts. (A durable commit is a KV write with an fsync that
    // also flushes the store's fresh data, 1.5–7 ms under load: waiting for one per batch made the commit
    // latency the worker's pace.) A batch waits only while more than MAX_UNCOMMITTED batches are stored
    // past the last finished commit, which bounds what a crash repeats (the upsert makes a repeat harmless).
    member.ack(msgs);
    acked++;
    commitAcked();
    while (acked - committedUpTo > MAX_UNCOMMITTED && committing !== null) await committing;
    metrics.batches++;
    metrics.last_flush_ts = now;
    options.onBatch?.(metrics);
  };

  /** Input the group has not acknowledged yet, in any process (durable: from KV; Kafka: this bus's view). */
  let probe: KafkaLagProbe | null = null;
  const pendingInput = async (): Promise<boolean> => {
    if (bus.backend === "kafka") {
      try {
        if (!probe) {
          const { createKafkaLagProbe } = await import("./kafka_lag.ts");
          probe = await createKafkaLagProbe(resolveKafkaSettings(options.kafka));
        }
        return (await probe.lag(inputTopic, group)) > 0;
      } catch {
        return (bus.metrics().groups[inputTopic]?.[group]?.lag ?? 0) > 0; // broker unreachable: our own view
      }
    }
    const t = (await durableStatus(workspace)).find((s) => s.topic === inputTopic);
    if (!t) return false;
    const g = t.groups[group];
    return g ? g.lag > 0 : t.head > 0;
  };

  let pending: Promise<BusMessage[]> | null = null;
  let previous: Promise<void> = Promise.resolve();
  const inFlight: Promise<void>[] = [];
  let reason: EmbedWorkerResult["reason"] = "closed";
  try {
    for (;;) {
      const first: Promise<BusMessage[]> = pending ?? member.nextBatch(batchSize);
      pending = first;
      const idleMs = options.exitWhenIdleSec !== undefined ? options.exitWhenIdleSec * 1000 : null;
      const r = await within(first, idleMs, options.signal);
      if (r === "abort") {
        reason = "signal";
        break;
      }
      if (r === "timeout") {
        // Messages the group has not acknowledged mean there is work, only not for us yet (another process
        // holds the group's lease, e.g. a worker killed a moment ago): keep waiting.
        if (await pendingInput()) continue;
        reason = "idle";
        break;
      }
      pending = null;
      const msgs = r;
      if (msgs.length === 0) break; // closed
      const deadline = performance.now() + maxWaitMs;
      while (msgs.length < batchSize) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        const more = member.nextBatch(batchSize - msgs.length);
        const got = await within(more, left);
        if (got === "timeout" || got === "abort") {
          pending = more; // its messages start the next batch
          break;
        }
        if (got.length === 0) break;
        msgs.push(...got);
      }
      // Batches are finished (stored, acknowledged) one after another, in order; up to `ahead` more are
      // parsed and embedded meanwhile.
      const job = startBatch(msgs);
      const done = previous.then(() => finishBatch(job));
      done.catch(() => {}); // awaited below (next batch or exit); this only keeps it from counting as unhandled
      previous = done;
      inFlight.push(done);
      if (inFlight.length > ahead) await inFlight.shift();
      if (options.signal?.aborted) {
        reason = "signal";
        break;
      }
    }
    await previous;
  } finally {
    await previous.catch(() => {});
    if (timer !== null) clearInterval(timer);
    // Messages taken but not processed are given back: the group redelivers them (durable: from the log).
    await committing;
    member.close();
    store.close();
    sink?.close();
    await (probe as KafkaLagProbe | null)?.close();
    metrics.stopped = true;
    snapshot();
    await writing;
  }
  return { metrics, reason };
}

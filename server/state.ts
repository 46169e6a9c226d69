/**
 * The state one running server owns: its home workspace (trace file, bus) and the active workspace the
 * read routes look at (changed with `POST /api/system/workspace`), the KV handle, the trace log, request
 * metrics, open SSE streams, the stream hub, resource and bus history rings, and the optional bus.
 * Route modules receive it when they register.
 *
 * @module
 */

import { openWorkspaceKv } from "../core/kv.ts";
import { workspacePaths } from "../core/workspace.ts";
import type { DurableTopicStatus, ServerBus } from "./bus_adapter.ts";
import { BrowserGuard } from "./browser_guard.ts";
import { StreamHub } from "./event_hub.ts";
import { DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT_MS } from "./http.ts";
import { HttpMetrics } from "./http_metrics.ts";
import { SseRegistry } from "./sse.ts";
import { TraceLog } from "./trace.ts";

/** Endpoints `/api/status` probes. */
export interface ProbeTargets {
  /** Ollama base URL (`OLLAMA_HOST`/`OLLAMA_BASE_URL`, default http://127.0.0.1:11434). */
  ollamaUrl?: string;
  /** Kafka bootstrap servers when Kafka is configured (`KAFKA_BOOTSTRAP`/`KAFKA_BROKERS`). */
  kafkaBrokers?: string;
  /** InferMesh base URL when configured (`INFERMESH_URL`). */
  infermeshUrl?: string;
}

/** Options for {@link createServerState}. */
export interface ServerStateOptions {
  /** The workspace the server runs for (absolute, existing). */
  workspace: string;
  /** Admin key; `undefined` reads `ADMIN_KEY`, `""` or `null` means none (loopback-only admin). */
  adminKey?: string | null;
  /** The bus, when running (`up` starts one). */
  bus?: ServerBus;
  /** Largest accepted request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Time a client has to send a request body, in ms (default 10000; 408 after). */
  bodyTimeoutMs?: number;
  /**
   * Requests one client address may have in flight at once (SSE streams included; default 256); more get
   * 503 with `Retry-After`. 0 turns the cap off.
   */
  maxRequestsPerClient?: number;
  /** Trace file rotation size in bytes (default 5 MiB). */
  traceMaxBytes?: number;
  /** Write the debug trace (default true). */
  traceEnabled?: boolean;
  /** SSE keep-alive comment interval in ms (default 15000). */
  keepAliveMs?: number;
  /** KV poll interval for live streams in ms (default 250). */
  pollMs?: number;
  /** Resource / bus sampling interval for the history rings in ms (default 5000; 0 disables). */
  sampleMs?: number;
  /** Probe targets for `/api/status` (default: from the environment). */
  probes?: ProbeTargets;
  /**
   * Extra `Host` values to accept (`name` or `name:port`; `*` = any), besides the loopback names and the
   * bound address. Default: `DSPY_ALLOWED_HOSTS`. See `server/browser_guard.ts`.
   */
  allowedHosts?: string[];
  /** Origins allowed cross-origin (CORS). Default: `DSPY_ALLOWED_ORIGINS`; none = no CORS headers. */
  allowedOrigins?: string[];
}

/** A point of a history ring. */
export interface Sample<T> {
  ts: number;
  value: T;
}

/** A bounded ring of samples. */
export class Ring<T> {
  #items: Sample<T>[] = [];
  #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  /** Adds a sample, dropping the oldest beyond the bound. */
  push(value: T): void {
    this.#items.push({ ts: Date.now() / 1000, value });
    if (this.#items.length > this.#max) this.#items.splice(0, this.#items.length - this.#max);
  }
  /** All samples, oldest first. */
  list(): Sample<T>[] {
    return [...this.#items];
  }
}

/** Everything a route module may use. */
export interface ServerState {
  /** The workspace the server started with (trace, bus). */
  readonly home: string;
  /** The workspace read routes use. */
  workspace: string;
  /** KV of the active workspace. */
  kv(): Promise<Deno.Kv>;
  readonly adminKey: string | null;
  /** Host/Origin/Content-Type checks applied to every request (see `server/browser_guard.ts`). */
  readonly browser: BrowserGuard;
  readonly bus: ServerBus | undefined;
  readonly bodyLimit: number;
  /** Time a client has to send a request body (ms). */
  readonly bodyTimeoutMs: number;
  /** Concurrent requests per client address (0 = unlimited). */
  readonly maxRequestsPerClient: number;
  readonly keepAliveMs: number;
  readonly pollMs: number;
  readonly sampleMs: number;
  readonly probes: ProbeTargets;
  readonly trace: TraceLog;
  readonly http: HttpMetrics;
  readonly sse: SseRegistry;
  /** Live readers of the KV streams of the active workspace. */
  hub: StreamHub;
  /** Recent resource samples (`/api/system/resources` history). */
  readonly resourceHistory: Ring<{ disk_free_gb: number; mem_free_gb: number; load1: number }>;
  /** Recent bus samples (`/api/bus` history): queue depth per topic, lag per group. */
  readonly busHistory: Ring<{ depth: Record<string, number>; lag: Record<string, number> }>;
  /**
   * The latest cross-process view of the durable topics in KV (refreshed by the bus sampler and by
   * `GET /api/bus`), or null before the first read or without a bus.
   */
  durable: { at: number; topics: DurableTopicStatus[] } | null;
  /** When the server started (ms since epoch). */
  readonly startedAt: number;
  /** Aborted when the server shuts down. */
  readonly shutdown: AbortController;
}

function envOr(...names: string[]): string | undefined {
  for (const n of names) {
    const v = Deno.env.get(n);
    if (v && v.trim()) return v.trim();
  }
  return undefined;
}

/** Probe targets from the environment. */
export function probesFromEnv(): ProbeTargets {
  const ollama = envOr("OLLAMA_BASE_URL", "OLLAMA_HOST") ?? "http://127.0.0.1:11434";
  return {
    ollamaUrl: /^https?:\/\//.test(ollama) ? ollama : `http://${ollama}`,
    kafkaBrokers: envOr("KAFKA_BOOTSTRAP", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKERS"),
    infermeshUrl: envOr("INFERMESH_URL"),
  };
}

/** Creates the state for one server. */
export function createServerState(options: ServerStateOptions): ServerState {
  const adminKey = options.adminKey === undefined ? (Deno.env.get("ADMIN_KEY") ?? null) : options.adminKey;
  const pollMs = options.pollMs ?? 250;
  const state: ServerState = {
    home: options.workspace,
    workspace: options.workspace,
    kv: () => openWorkspaceKv(state.workspace),
    adminKey: adminKey ? adminKey : null,
    browser: new BrowserGuard({ allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins }),
    bus: options.bus,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    maxRequestsPerClient: options.maxRequestsPerClient ?? 256,
    keepAliveMs: options.keepAliveMs ?? 15_000,
    pollMs,
    sampleMs: options.sampleMs ?? 5000,
    probes: options.probes ?? probesFromEnv(),
    trace: new TraceLog({
      dir: workspacePaths(options.workspace).reportsDir,
      maxBytes: options.traceMaxBytes,
      enabled: options.traceEnabled,
    }),
    http: new HttpMetrics(),
    sse: new SseRegistry(),
    hub: new StreamHub(() => state.kv(), { pollMs }),
    resourceHistory: new Ring(120),
    busHistory: new Ring(120),
    durable: null,
    startedAt: Date.now(),
    shutdown: new AbortController(),
  };
  return state;
}

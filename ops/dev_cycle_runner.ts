/**
 * One dev cycle at a time, in the background, for the status server: {@link DevCycleRunner} starts a cycle
 * (a second start while one runs is refused), stops it (the whole process group: SIGTERM, then SIGKILL after
 * 10 s), and keeps what clients read — the state (`{running, stage, stages, lines, started, finished, ok}`)
 * and a numbered event log (`line`, `stage`, `start`, `done`) that live streams follow and resume from by
 * sequence number. The log ring holds the last 2000 events across runs.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import {
  devCycleLogFile,
  type DevCycleOptions,
  type DevCycleResult,
  runDevCycle,
  STAGE_NAMES,
  type StageReport,
} from "./dev_cycle.ts";

/** A cycle is already running. */
export class DevCycleBusyError extends UserError {
  constructor(started: number) {
    super(
      `a dev cycle is already running (started ${new Date(started * 1000).toISOString()}); ` +
        `stop it first (POST /api/dev-cycle/stop)`,
    );
    this.name = "DevCycleBusyError";
  }
}

/** One numbered event. */
export interface DevCycleEvent {
  seq: number;
  event: "start" | "line" | "stage" | "done";
  data: unknown;
}

/** What `GET /api/dev-cycle/status` returns. */
export interface DevCycleStatus {
  running: boolean;
  /** The running stage (or the last one that ran). */
  stage: string | null;
  stages: StageReport[];
  /** The last 50 lines. */
  lines: string[];
  /** Epoch seconds, null before the first run. */
  started: number | null;
  finished: number | null;
  /** null while running or before any run. */
  ok: boolean | null;
  code: number | null;
  /** The sequence number of the newest event (resume point for streams). */
  seq: number;
}

const RING = 2000;
const LINES = 500;

/** Options for a start. */
export type RunnerStartOptions = Omit<DevCycleOptions, "root" | "onLine" | "onStage" | "signal" | "commit">;

/** Owns the background cycle of one project folder. */
export class DevCycleRunner {
  readonly root: string;
  #defaults: Partial<DevCycleOptions>;
  #events: DevCycleEvent[] = [];
  #seq = 0;
  #lines: string[] = [];
  #listeners = new Set<(e: DevCycleEvent) => void>();
  #abort: AbortController | undefined;
  #running: Promise<DevCycleResult> | undefined;
  #stages: StageReport[] = STAGE_NAMES.map((name) => ({ name, state: "pending" }));
  #stage: string | null = null;
  #started: number | null = null;
  #finished: number | null = null;
  #result: DevCycleResult | undefined;

  /** `defaults` apply to every start (tests set `deno`, `killGraceMs`, `composeFile`). */
  constructor(root: string, defaults: Partial<DevCycleOptions> = {}) {
    this.root = root;
    this.#defaults = defaults;
  }

  /** The log file of the last (or current) run. */
  get logFile(): string {
    return this.#defaults.logFile ?? devCycleLogFile(this.root);
  }

  /** True while a cycle runs. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  #emit(event: DevCycleEvent["event"], data: unknown): void {
    const e = { seq: ++this.#seq, event, data };
    this.#events.push(e);
    if (this.#events.length > RING) this.#events.splice(0, this.#events.length - RING);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch { /* a listener's failure is its own */ }
    }
  }

  /**
   * Starts a cycle in the background; resolves once it runs. Throws {@link DevCycleBusyError} while one
   * runs. The API never commits (`commit` is not an option here).
   */
  async start(options: RunnerStartOptions = {}): Promise<{ started: number }> {
    if (this.#running) throw new DevCycleBusyError(this.#started ?? 0);
    const abort = new AbortController();
    this.#abort = abort;
    this.#lines = [];
    this.#stages = STAGE_NAMES.map((name) => ({ name, state: "pending" }));
    this.#stage = null;
    this.#started = Date.now() / 1000;
    this.#finished = null;
    this.#result = undefined;
    this.#emit("start", { started: this.#started, options });
    const { promise: began, resolve: onBegan, reject: onFailed } = Promise.withResolvers<void>();
    const run = runDevCycle({
      ...this.#defaults,
      ...options,
      root: this.root,
      commit: false,
      signal: abort.signal,
      onLine: (text) => {
        onBegan();
        this.#lines.push(text);
        if (this.#lines.length > LINES) this.#lines.splice(0, this.#lines.length - LINES);
        this.#emit("line", { text });
      },
      onStage: (r) => {
        const i = this.#stages.findIndex((s) => s.name === r.name);
        if (i >= 0) this.#stages[i] = r;
        if (r.state === "running" || r.state === "ok" || r.state === "failed") this.#stage = r.name;
        this.#emit("stage", r);
      },
    });
    this.#running = run;
    run.then((result) => {
      this.#result = result;
      this.#stages = result.stages.filter((s) => s.name !== "commit");
      this.#finished = result.finished;
      this.#emit("done", {
        ok: result.ok,
        code: result.code,
        stopped: result.stopped,
        finished: result.finished,
      });
    }, (err) => {
      onFailed(err);
      this.#finished = Date.now() / 1000;
      this.#result = undefined;
      const text = `[dev-cycle] could not start: ${(err as Error).message}`;
      this.#lines.push(text);
      this.#emit("line", { text });
      this.#emit("done", { ok: false, code: 1, stopped: false, error: (err as Error).message });
    }).finally(() => {
      this.#running = undefined;
      this.#abort = undefined;
    });
    await Promise.race([began, run.then(() => {})]);
    return { started: this.#started };
  }

  /** Stops the running cycle; resolves once every process of it has ended. False when none ran. */
  async stop(): Promise<boolean> {
    const run = this.#running;
    if (!run) return false;
    this.#abort?.abort();
    await run.catch(() => {});
    return true;
  }

  /** Waits for the running cycle (if any) to end. */
  async settled(): Promise<DevCycleResult | undefined> {
    await this.#running?.catch(() => {});
    return this.#result;
  }

  /** The current state. */
  status(): DevCycleStatus {
    return {
      running: this.running,
      stage: this.#stage,
      stages: this.#stages.map((s) => ({ ...s })),
      lines: this.#lines.slice(-50),
      started: this.#started,
      finished: this.#finished,
      ok: this.running || !this.#finished ? null : this.#result?.ok ?? false,
      code: this.running || !this.#finished ? null : this.#result?.code ?? 1,
      seq: this.#seq,
    };
  }

  /**
   * Events after `seq` still held in the ring; `null` when `seq` is older than the ring (the caller then
   * replays the whole ring). `seq` undefined means everything held.
   */
  since(seq?: number): DevCycleEvent[] | null {
    if (seq === undefined) return [...this.#events];
    const first = this.#events[0]?.seq ?? this.#seq + 1;
    if (seq < first - 1 || seq > this.#seq) return null;
    return this.#events.filter((e) => e.seq > seq);
  }

  /** Calls `listener` for every new event; returns the unsubscribe function. */
  listen(listener: (e: DevCycleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

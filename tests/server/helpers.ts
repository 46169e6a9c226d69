/**
 * Test support for the server tests: a real server on loopback port 0 in a temp workspace, an SSE frame
 * reader over a real fetch body, and a Prometheus text parser that rejects malformed documents.
 *
 * @module
 */

import type { Bus } from "../../bus/mod.ts";
import { startBus } from "../../bus/mod.ts";
import { closeAllKv } from "../../core/kv.ts";
import { fromBus } from "../../server/bus_adapter.ts";
import { type ServerHandle, startServer, type StartServerOptions } from "../../server/server.ts";

/** A started server plus its temp workspace (and its bus when asked for). */
export interface TestServer extends ServerHandle {
  workspace: string;
  bus?: Bus;
}

/**
 * Starts a server in a fresh temp workspace with test-friendly defaults (no sampling, no probes). With
 * `withBus`, a real LocalBus runs for the workspace (as `up` starts it).
 */
export async function withServer(
  options: Partial<StartServerOptions> & { withBus?: boolean },
  fn: (s: TestServer) => Promise<void>,
): Promise<void> {
  const workspace = options.workspace ?? await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_srv_" }));
  const bus = options.withBus
    ? await startBus({ workspace, backend: "local", metricsIntervalSec: 0, routeEvents: false })
    : undefined;
  const server = await startServer({
    adminKey: null,
    sampleMs: 0,
    probes: {},
    pollMs: 50,
    ...options,
    bus: bus ? fromBus(bus) : options.bus,
    workspace,
    port: options.port ?? 0,
  });
  try {
    await fn({ ...server, workspace, shutdown: server.shutdown, state: server.state, bus });
  } finally {
    await server.shutdown();
    await bus?.close();
    await closeAllKv();
    if (!options.workspace) await Deno.remove(workspace, { recursive: true }).catch(() => {});
  }
}

/** One parsed SSE frame (comments are returned with `comment` set). */
export interface Frame {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/** Reads SSE frames from a response body. */
export class SseReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  #queue: Frame[] = [];
  constructor(res: Response) {
    if (!res.body) throw new Error("no body");
    this.#reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** Next frame (including comments), or null at end of stream; rejects after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<Frame | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for an SSE frame");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, rej) =>
          timer = setTimeout(() => rej(new Error("timed out waiting for an SSE frame")), left)
        ),
      ]).finally(() => clearTimeout(timer));
      if (r.done) return null;
      this.#buf += r.value;
      let idx: number;
      while ((idx = this.#buf.indexOf("\n\n")) !== -1) {
        const block = this.#buf.slice(0, idx);
        this.#buf = this.#buf.slice(idx + 2);
        const f: Frame = {};
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) f.comment = line.slice(1).trim();
          else if (line.startsWith("event: ")) f.event = line.slice(7);
          else if (line.startsWith("id: ")) f.id = line.slice(4);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
          else if (line.startsWith("retry: ")) continue;
          else throw new Error(`malformed SSE line: ${JSON.stringify(line)}`);
        }
        if (data.length) f.data = data.join("\n");
        this.#queue.push(f);
      }
    }
    return this.#queue.shift()!;
  }
  /** Next frame that is not a comment. */
  async nextEvent(timeoutMs = 5000): Promise<Frame | null> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const f = await this.next(Math.max(1, deadline - Date.now()));
      if (f === null || f.comment === undefined) return f;
    }
  }
  /** Cancels the stream (client disconnect). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** A parsed Prometheus sample. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format strictly; throws on any malformed line. */
export function parsePrometheus(text: string): { samples: PromSample[]; types: Map<string, string> } {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const seenFamilies: string[] = [];
  const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const name = line.slice(7).split(" ")[0];
      if (!nameRe.test(name)) throw new Error(`bad HELP name: ${line}`);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      if (!nameRe.test(name) || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) {
        throw new Error(`bad TYPE line: ${line}`);
      }
      if (types.has(name)) throw new Error(`TYPE declared twice: ${name}`);
      types.set(name, type);
      seenFamilies.push(name);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`malformed sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let pos = 0;
      while (pos < m[3].length) {
        re.lastIndex = pos;
        const lm = re.exec(m[3]);
        if (!lm) throw new Error(`malformed labels: ${m[3]}`);
        labels[lm[1]] = lm[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        pos = re.lastIndex;
      }
    }
    const raw = m[4];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`bad value: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, "");
    const current = seenFamilies.at(-1);
    if (current !== m[1] && current !== family) {
      throw new Error(`sample ${m[1]} is not grouped under its TYPE (current family ${current})`);
    }
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

/** Fetches JSON and returns `{status, body}` (`body` is `any`: tests index into arbitrary JSON). */
// deno-lint-ignore no-explicit-any
export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const method = (init?.method ?? "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") {
    // As the dashboard does: state-changing requests are JSON (server/browser_guard.ts refuses others).
    const headers = new Headers(init?.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    init = { ...init, headers };
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, body };
}

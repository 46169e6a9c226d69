/**
 * Server-sent events: a `text/event-stream` response with named events, ids, a keep-alive comment every
 * 15 s and no fixed length. A stream ends when the client disconnects (the request's signal), when the
 * server shuts down, or when the client falls too far behind (its queue is bounded; it reconnects with
 * `Last-Event-ID` and resumes). Every open stream is counted in an {@link SseRegistry} so shutdown can close
 * them all and tests can see that a disconnect cleaned up.
 *
 * @module
 */

import { HttpError } from "./http.ts";

const encoder = new TextEncoder();

/**
 * The number a reconnecting client sends back as `Last-Event-ID` (or `?last_id=`, for clients that cannot set
 * headers): undefined when absent or empty; a resume point that is not a number is a 400 saying to send the
 * `what` (e.g. "last event id") seen, never a silent start from the beginning.
 */
export function numericLastEventId(req: Request, what: string): number | undefined {
  const raw = req.headers.get("last-event-id") ?? new URL(req.url).searchParams.get("last_id");
  if (raw === null || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new HttpError(400, `malformed Last-Event-ID '${raw.slice(0, 40)}': send the ${what} seen`);
  }
  return Number(raw);
}

/** One SSE frame. */
export interface SseEvent {
  /** Event name (`event:` line). */
  event?: string;
  /** Event id (`id:` line), echoed back as `Last-Event-ID` on reconnect. */
  id?: string;
  /** Payload; objects are sent as JSON. */
  data: unknown;
  /** Reconnect delay hint in ms (`retry:` line). */
  retry?: number;
}

/** Formats one frame. Multi-line data becomes several `data:` lines, as the spec requires. */
export function formatSse(ev: SseEvent): string {
  let out = "";
  if (ev.event) out += `event: ${ev.event.replace(/[\r\n]/g, "")}\n`;
  if (ev.id !== undefined) out += `id: ${String(ev.id).replace(/[\r\n]/g, "")}\n`;
  if (ev.retry !== undefined) out += `retry: ${Math.floor(ev.retry)}\n`;
  const text = typeof ev.data === "string" ? ev.data : JSON.stringify(ev.data);
  for (const line of text.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + "\n";
}

/** What a stream producer gets: send frames until `signal` aborts. */
export interface SseSink {
  /** Sends a frame; returns false when the stream is closed (stop producing). */
  send(ev: SseEvent): boolean;
  /** Writes pre-formatted frames (bytes shared between streams). */
  write(bytes: Uint8Array): boolean;
  /** Sends a comment line (`: text`). */
  comment(text: string): boolean;
  /** Aborted when the client goes away, the server stops, or the stream is closed. */
  readonly signal: AbortSignal;
  /** Ends the stream. */
  close(): void;
}

/** Counts open streams and closes them all at shutdown. */
export class SseRegistry {
  #open = new Set<AbortController>();
  #closed = false;
  /** Number of streams currently open. */
  get open(): number {
    return this.#open.size;
  }
  /** @internal */
  add(ac: AbortController): void {
    this.#open.add(ac);
    if (this.#closed) queueMicrotask(() => ac.abort()); // opened during shutdown: end it at once
  }
  /** @internal */
  delete(ac: AbortController): void {
    this.#open.delete(ac);
  }
  /** Closes every open stream, and every stream opened from now on. */
  closeAll(): void {
    this.#closed = true;
    for (const ac of [...this.#open]) ac.abort();
  }
}

/** Options for {@link sseResponse}. */
export interface SseOptions {
  /** The request (its signal aborts on disconnect when `completed` is not given). */
  request: Request;
  /**
   * `Deno.ServeHandlerInfo.completed`: settles when the response finished or the client went away. Preferred
   * over the request's signal (which also aborts on successful responses under Deno's legacy behaviour).
   */
  completed?: Promise<void>;
  /** Where the stream is counted. */
  registry: SseRegistry;
  /** Keep-alive comment interval in ms (default 15000). */
  keepAliveMs?: number;
  /** Queue bound in frames: a client this far behind is disconnected (default 2000). */
  maxQueued?: number;
  /** Produces frames; may run until `sink.signal` aborts. Its errors end the stream. */
  start(sink: SseSink): void | Promise<void>;
}

/** Builds the streaming response. */
export function sseResponse(options: SseOptions): Response {
  const ac = new AbortController();
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const maxQueued = options.maxQueued ?? 2000;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const close = () => {
    if (closed) return;
    closed = true;
    if (timer !== undefined) clearInterval(timer);
    options.registry.delete(ac);
    if (!options.completed) options.request.signal.removeEventListener("abort", close);
    ac.abort();
    try {
      controller.close();
    } catch { /* already closed or errored */ }
  };
  const write = (text: string | Uint8Array): boolean => {
    if (closed) return false;
    if ((controller.desiredSize ?? 0) < -maxQueued) {
      close(); // the client cannot keep up: drop it; it resumes with Last-Event-ID
      return false;
    }
    try {
      controller.enqueue(typeof text === "string" ? encoder.encode(text) : text);
      return true;
    } catch {
      close();
      return false;
    }
  };
  const sink: SseSink = {
    send: (ev) => write(formatSse(ev)),
    write: (bytes) => write(bytes),
    comment: (text) => write(`: ${text.replace(/[\r\n]/g, " ")}\n\n`),
    signal: ac.signal,
    close,
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      options.registry.add(ac);
      if (options.completed) {
        options.completed.then(close, close);
      } else {
        if (options.request.signal.aborted) {
          close();
          return;
        }
        options.request.signal.addEventListener("abort", close, { once: true });
      }
      ac.signal.addEventListener("abort", close, { once: true });
      sink.comment("connected");
      timer = setInterval(() => sink.comment("keep-alive"), keepAliveMs);
      Promise.resolve()
        .then(() => options.start(sink))
        .catch((err) => {
          if (!closed) write(formatSse({ event: "error", data: { error: String(err?.message ?? err) } }));
        })
        .finally(() => {
          // A producer that returns while the client is still there ends the stream.
          if (!ac.signal.aborted) close();
        });
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 1 });

  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "connection": "keep-alive",
      "x-accel-buffering": "no",
    },
  });
}

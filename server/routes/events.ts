/**
 * Agent events from the workspace's KV streams (`agent.metrics`, `agent.actions`):
 * `GET /api/events` pages through them with filters, and `GET /api/events/stream` is a live SSE tail that
 * resumes after a disconnect with `Last-Event-ID` (or `?last_id=`). Event ids are `SEQ` for one stream and
 * `METRICS_SEQ:ACTIONS_SEQ` for both, so a resumed client gets exactly what it missed.
 *
 * @module
 */

import { ACTIONS_STREAM, type AgentEnvelope, METRICS_STREAM } from "../../core/events.ts";
import { readStream, scanStreamBackward, type StreamEntry, streamHead } from "../../core/streams.ts";
import type { RouteModule } from "../app.ts";
import { HttpError, intParam, numberParam } from "../http.ts";
import { sseResponse } from "../sse.ts";
import type { ServerState } from "../state.ts";

/** One event as the API returns it. */
export interface EventItem {
  stream: string;
  seq: number;
  /** Seconds since the epoch (the envelope's ts). */
  ts: number;
  /** Metric or action name. */
  name: string;
  kind: "metric" | "action";
  /** `data` of a metric, `payload` of an action. */
  data: unknown;
  workspace: string;
}

const STREAMS: Record<string, string[]> = {
  "": [METRICS_STREAM, ACTIONS_STREAM],
  all: [METRICS_STREAM, ACTIONS_STREAM],
  metrics: [METRICS_STREAM],
  actions: [ACTIONS_STREAM],
  [METRICS_STREAM]: [METRICS_STREAM],
  [ACTIONS_STREAM]: [ACTIONS_STREAM],
};

/** Resolves the `stream` query parameter. */
export function selectStreams(raw: string | undefined): string[] {
  const streams = STREAMS[raw ?? ""];
  if (!streams) {
    throw new HttpError(
      400,
      `unknown stream '${String(raw).slice(0, 60)}': use agent.metrics, agent.actions or all`,
    );
  }
  return streams;
}

/** Turns a stored entry into an {@link EventItem} (defensively: foreign values still show). */
export function toItem(stream: string, entry: StreamEntry): EventItem {
  const env = (entry.value ?? {}) as Partial<AgentEnvelope> & Record<string, unknown>;
  const isAction = typeof env.action === "string";
  const name = isAction ? String(env.action) : typeof env.metric === "string" ? env.metric : "unknown";
  return {
    stream,
    seq: entry.seq,
    ts: typeof env.ts === "number" ? env.ts : entry.ts / 1000,
    name,
    kind: isAction ? "action" : "metric",
    data: isAction ? env.payload : ("data" in env ? env.data : env),
    workspace: typeof env.workspace === "string" ? env.workspace : "",
  };
}

/** Builds the name filter: exact, or a prefix when it ends with `*` or `.`. */
export function nameMatcher(raw: string | undefined): (name: string) => boolean {
  if (!raw) return () => true;
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  return (name) =>
    names.some((n) =>
      n.endsWith("*") ? name.startsWith(n.slice(0, -1)) : n.endsWith(".") ? name.startsWith(n) : name === n
    );
}

/** Newest `limit` matching items of one stream, oldest first, scanning at most `scanMax` entries. */
async function latest(
  kv: Deno.Kv,
  stream: string,
  opts: { limit: number; match: (name: string) => boolean; since?: number; after?: number; scanMax: number },
): Promise<EventItem[]> {
  const out: EventItem[] = [];
  if (opts.after !== undefined) {
    // Forward paging from a cursor.
    let after = opts.after;
    let scanned = 0;
    while (out.length < opts.limit && scanned < opts.scanMax) {
      const page = await readStream(kv, stream, { after, limit: 500 });
      if (page.length === 0) break;
      for (const e of page) {
        after = e.seq;
        const item = toItem(stream, e);
        if (opts.match(item.name) && (opts.since === undefined || item.ts >= opts.since)) out.push(item);
        if (out.length >= opts.limit) break;
      }
      scanned += page.length;
    }
    return out;
  }
  let scanned = 0;
  for await (const e of scanStreamBackward(kv, stream, opts.scanMax)) {
    if (++scanned > opts.scanMax) break;
    const item = toItem(stream, e);
    if (opts.since !== undefined && item.ts < opts.since) break;
    if (opts.match(item.name)) out.push(item);
    if (out.length >= opts.limit) break;
  }
  return out.reverse();
}

/** Parses a Last-Event-ID for the given streams; undefined when absent, 400 when malformed. */
export function parseEventId(raw: string | undefined, streams: string[]): number[] | undefined {
  if (raw === undefined || raw === "") return undefined;
  const parts = raw.split(":");
  if (parts.length !== streams.length || !parts.every((p) => /^\d{1,15}$/.test(p))) {
    throw new HttpError(
      400,
      `malformed Last-Event-ID '${raw.slice(0, 60)}' for stream(s) ${streams.join(", ")}`,
    );
  }
  return parts.map(Number);
}

function streamSse(
  state: ServerState,
  req: Request,
  completed: Promise<void> | undefined,
  streams: string[],
  opts: {
    resume?: number[];
    backlog: number;
    match: (name: string) => boolean;
  },
): Response {
  return sseResponse({
    request: req,
    completed,
    registry: state.sse,
    keepAliveMs: state.keepAliveMs,
    async start(sink) {
      const hub = state.hub;
      const kv = await state.kv();
      const last = streams.map(() => 0);
      const idOf = () => last.join(":");
      const emit = (i: number, entry: StreamEntry) => {
        if (entry.seq <= last[i]) return true; // already sent (catch-up and live overlap)
        last[i] = entry.seq;
        const item = toItem(streams[i], entry);
        if (!opts.match(item.name)) return true;
        return sink.send({ event: item.kind, id: idOf(), data: item });
      };
      // Subscribe first, buffer live entries during catch-up, then drain: nothing falls in between.
      const buffered: [number, StreamEntry][] = [];
      let live = false;
      const subs = streams.map((s, i) =>
        hub.subscribe(s, (entry) => {
          if (live) emit(i, entry);
          else if (buffered.length < 10_000) buffered.push([i, entry]);
        })
      );
      sink.signal.addEventListener("abort", () => subs.forEach((s) => s.unsubscribe()), { once: true });
      // The active workspace changed (POST /api/system/workspace): say so, clear the client's last id (an
      // empty `id:` field) so its automatic reconnect starts on the new workspace's log, and end the stream.
      const switched = () => {
        sink.send({ event: "workspace", id: "", data: { workspace: state.workspace } });
        sink.close();
      };
      if (hub.closed.aborted) return switched();
      hub.closed.addEventListener("abort", switched, { once: true });
      sink.signal.addEventListener("abort", () => hub.closed.removeEventListener("abort", switched), {
        once: true,
      });
      await Promise.all(subs.map((s) => s.ready));
      let resume = opts.resume;
      if (resume) {
        // An id past a stream's head comes from another log (the workspace was switched, or its KV was
        // reset): start over with the backlog instead of waiting silently for sequence numbers that may
        // never come.
        const heads = await Promise.all(streams.map((s) => streamHead(kv, s)));
        if (resume.some((seq, i) => seq > heads[i])) resume = undefined;
      }
      // Catch up: everything after the resume point, or the last `backlog` entries of each stream. Set every
      // stream's position first so ids are right from the first frame, then send in time order.
      const lists: StreamEntry[][] = streams.map(() => []);
      for (let i = 0; i < streams.length; i++) {
        let entries: StreamEntry[] = [];
        if (resume) {
          let after = resume[i];
          while (entries.length < 10_000) {
            const page = await readStream(kv, streams[i], { after, limit: 500 });
            if (page.length === 0) break;
            entries.push(...page);
            after = page[page.length - 1].seq;
          }
          last[i] = resume[i];
        } else {
          if (opts.backlog > 0) {
            entries = (await readStream(kv, streams[i], { limit: opts.backlog, reverse: true })).reverse();
          }
          const head = entries.length ? [] : await readStream(kv, streams[i], { limit: 1, reverse: true });
          last[i] = entries.length ? entries[0].seq - 1 : (head[0]?.seq ?? 0);
        }
        lists[i] = entries;
      }
      // Merge by time while keeping each stream in sequence order.
      const pos = lists.map(() => 0);
      while (true) {
        let pick = -1;
        for (let i = 0; i < lists.length; i++) {
          if (pos[i] < lists[i].length && (pick === -1 || lists[i][pos[i]].ts < lists[pick][pos[pick]].ts)) {
            pick = i;
          }
        }
        if (pick === -1) break;
        if (!emit(pick, lists[pick][pos[pick]++])) return;
      }
      sink.send({ event: "ready", id: idOf(), data: { streams, resumed: Boolean(resume) } });
      for (const [i, e] of buffered) emit(i, e);
      buffered.length = 0;
      live = true;
      await new Promise<void>((resolve) =>
        sink.signal.addEventListener("abort", () => resolve(), { once: true })
      );
    },
  });
}

/** The events routes. */
export const eventRoutes: RouteModule = {
  name: "events",
  register(routes, state) {
    routes.get("/api/events", async (c) => {
      const streams = selectStreams(c.req.query("stream"));
      const limit = intParam("limit", c.req.query("limit"), 100, 1, 1000);
      const since = numberParam("since", c.req.query("since"));
      const afterRaw = c.req.query("after");
      if (afterRaw !== undefined && streams.length !== 1) {
        throw new HttpError(
          400,
          "after= needs a single stream: add stream=agent.metrics or stream=agent.actions",
        );
      }
      const after = afterRaw === undefined
        ? undefined
        : intParam("after", afterRaw, 0, 0, Number.MAX_SAFE_INTEGER);
      const match = nameMatcher(c.req.query("name"));
      const kv = await state.kv();
      const parts = await Promise.all(
        streams.map((s) => latest(kv, s, { limit, match, since, after, scanMax: 50_000 })),
      );
      const items = parts.flat().sort((a, b) => a.ts - b.ts || a.seq - b.seq).slice(-limit);
      const cursor = Object.fromEntries(streams.map((s, i) => [s, parts[i].at(-1)?.seq ?? after ?? 0]));
      return c.json({ streams, count: items.length, items, cursor });
    });

    routes.get("/api/events/stream", (c) => {
      const streams = selectStreams(c.req.query("stream"));
      const resume = parseEventId(c.req.header("last-event-id") ?? c.req.query("last_id"), streams);
      const backlog = intParam("backlog", c.req.query("backlog"), 50, 0, 1000);
      return streamSse(state, c.req.raw, c.env?.completed, streams, {
        resume,
        backlog,
        match: nameMatcher(c.req.query("name")),
      });
    });
  },
};

/**
 * The debug trace: `GET /api/debug/trace` → `{enabled, bytes, file}`; `POST /api/debug/trace
 * {"clear": true}` (admin) truncates the file; `GET /api/debug/trace/stream` (SSE) replays the last
 * `replay` lines (default 25) as `trace` events, then one `ready` event, then streams each new request as it
 * finishes. Live records and `ready` carry ids; a client that reconnects with `Last-Event-ID` (or
 * `?last_id=`) gets exactly the records it missed instead of the replay, as long as the server still holds
 * them in memory (the last 2000) and has not restarted.
 *
 * @module
 */

import type { RouteModule } from "../app.ts";
import { HttpError, intParam, readJsonObject } from "../http.ts";
import { sseResponse } from "../sse.ts";
import type { SeqTraceRecord } from "../trace.ts";

/** The trace routes. */
export const traceRoutes: RouteModule = {
  name: "trace",
  register(routes, state) {
    routes.get("/api/debug/trace", async (c) => {
      await state.trace.flush();
      return c.json({
        enabled: state.trace.enabled,
        bytes: await state.trace.bytes(),
        file: state.trace.file,
      });
    });

    routes.post("/api/debug/trace", async (c) => {
      const body = await readJsonObject(c.req.raw, state.bodyLimit, state.bodyTimeoutMs);
      if (body.clear !== true) {
        throw new HttpError(400, 'nothing to do: send {"clear": true} to truncate the trace');
      }
      await state.trace.clear();
      return c.json({ ok: true, cleared: true, bytes: await state.trace.bytes() });
    }, { admin: true });

    routes.get("/api/debug/trace/stream", (c) => {
      const replay = intParam("replay", c.req.query("replay"), 25, 0, 1000);
      const lastId = c.req.header("last-event-id") ?? c.req.query("last_id");
      const trace = state.trace;
      return sseResponse({
        request: c.req.raw,
        completed: c.env?.completed,
        registry: state.sse,
        keepAliveMs: state.keepAliveMs,
        async start(sink) {
          // Everything up to `sent` has reached this client (or is covered by the replay).
          let sent = 0;
          const send = (rec: SeqTraceRecord) => {
            const { seq, ...data } = rec;
            sink.send({ event: "trace", id: trace.idOf(seq), data });
            sent = seq;
          };
          const pending: SeqTraceRecord[] = [];
          let live = false;
          const stop = trace.listen((batch) => {
            if (!live) {
              if (pending.length < 2000) pending.push(...batch.records);
            } else if (batch.records.length === 0 || batch.records[0].seq > sent) {
              sink.write(batch.frames);
              sent = batch.records.at(-1)?.seq ?? sent;
            } else {
              for (const rec of batch.records) if (rec.seq > sent) send(rec);
            }
          });
          sink.signal.addEventListener("abort", stop, { once: true });
          const resumeAt = lastId ? trace.parseId(lastId) : null;
          const missed = resumeAt === null ? null : trace.since(resumeAt);
          if (missed) {
            sent = resumeAt!;
            for (const rec of missed) send(rec);
          } else {
            // A fresh stream (or one we cannot resume): the last lines of the file (earlier runs included)
            // without ids, or the in-memory records when the file is off. Records after `sent` follow live.
            sent = trace.seq;
            if (replay && trace.enabled) {
              for (const rec of await trace.tail(replay)) sink.send({ event: "trace", data: rec });
            } else if (replay) {
              for (const { seq: _, ...rec } of trace.recent(replay)) sink.send({ event: "trace", data: rec });
            }
          }
          for (const rec of pending) if (rec.seq > sent) send(rec);
          sink.send({
            event: "ready",
            id: trace.idOf(sent),
            data: { resumed: missed !== null, seq: sent },
          });
          live = true;
          await new Promise<void>((r) => sink.signal.addEventListener("abort", () => r(), { once: true }));
        },
      });
    });
  },
};

/**
 * The debug trace: `GET /api/debug/trace` → `{enabled, bytes, file}`; `POST /api/debug/trace
 * {"clear": true}` (admin) truncates the file; `GET /api/debug/trace/stream` (SSE) replays the last
 * `replay` lines (default 25) as `trace` events, then streams each new request as it finishes.
 *
 * @module
 */

import type { RouteModule } from "../app.ts";
import { HttpError, intParam, readJsonObject } from "../http.ts";
import { sseResponse } from "../sse.ts";
import type { TraceRecord } from "../trace.ts";

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
      const body = await readJsonObject(c.req.raw, state.bodyLimit);
      if (body.clear !== true) {
        throw new HttpError(400, 'nothing to do: send {"clear": true} to truncate the trace');
      }
      await state.trace.clear();
      return c.json({ ok: true, cleared: true, bytes: await state.trace.bytes() });
    }, { admin: true });

    routes.get("/api/debug/trace/stream", (c) => {
      const replay = intParam("replay", c.req.query("replay"), 25, 0, 1000);
      return sseResponse({
        request: c.req.raw,
        completed: c.env?.completed,
        registry: state.sse,
        keepAliveMs: state.keepAliveMs,
        async start(sink) {
          const pending: TraceRecord[] = [];
          let live = false;
          const stop = state.trace.listen((batch) => {
            if (live) sink.write(batch.frames);
            else if (pending.length < 1000) pending.push(...batch.records.map(({ seq: _, ...r }) => r));
          });
          sink.signal.addEventListener("abort", stop, { once: true });
          const past = replay ? await state.trace.tail(replay) : [];
          // Records that arrived while reading may also be in the file tail: skip exact duplicates.
          const seen = new Set(past.map((r) => JSON.stringify(r)));
          for (const rec of past) sink.send({ event: "trace", data: rec });
          for (const rec of pending) {
            if (!seen.has(JSON.stringify(rec))) sink.send({ event: "trace", data: rec });
          }
          live = true;
          await new Promise<void>((r) => sink.signal.addEventListener("abort", () => r(), { once: true }));
        },
      });
    });
  },
};

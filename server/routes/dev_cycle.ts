/**
 * The dev cycle over HTTP, for the server's home workspace (see `ops/dev_cycle.ts` for the stages):
 *
 * - `POST /api/dev-cycle/start` (admin) body `{only?: [stage], skip?: [stage], tests?: "PATTERN"}` → 202
 *   `{ok, started, status}`; 409 while a cycle runs; 400 for unknown stages or `commit` (the API never
 *   commits; `dspy-code dev-cycle --commit` does, locally).
 * - `POST /api/dev-cycle/stop` (admin) → `{ok, stopped}` once every process of the cycle ended (its whole
 *   process group: SIGTERM, then SIGKILL after 10 s); `{ok, stopped: false, message: "not running"}`.
 * - `GET /api/dev-cycle/status` → `{running, stage, stages, lines: [last 50], started, finished, ok, code, seq}`.
 * - `GET /api/dev-cycle/stream` (SSE): the events held (`start`, `line`, `stage`, `done`, each with its
 *   sequence number as id), then live ones; `Last-Event-ID` (or `?last_id=`) resumes after that event, and
 *   a `ready` event marks the end of the replay.
 * - `GET /api/dev-cycle/logs`: `.dspy_reports/dev_cycle.log` as a `text/plain` attachment; before any run,
 *   200 `No logs yet. Start a dev cycle to generate logs.`
 *
 * The state-changing routes are admin routes like the others (`server/auth.ts`); the server's browser
 * protections (Host/Origin/Content-Type) apply to them as to every POST.
 *
 * @module
 */

import type { RouteModule } from "../app.ts";
import { HttpError, readJsonObject } from "../http.ts";
import { numericLastEventId, sseResponse } from "../sse.ts";
import {
  DevCycleBusyError,
  type DevCycleOptions,
  DevCycleRunner,
  parseStageList,
  type RunnerStartOptions,
} from "../../ops/mod.ts";

const NO_LOGS = "No logs yet. Start a dev cycle to generate logs.\n";

function stageListParam(name: string, value: unknown) {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) && typeof value !== "string") {
    throw new HttpError(400, `${name} must be a list of stage names, e.g. ["deps","check"]`);
  }
  if (Array.isArray(value) && value.some((v) => typeof v !== "string")) {
    throw new HttpError(400, `${name} must be a list of stage names (strings)`);
  }
  try {
    return parseStageList(name, value as string[] | string);
  } catch (err) {
    throw new HttpError(400, (err as Error).message.replace(/^dev-cycle: /, ""));
  }
}

/** Builds the dev-cycle routes; `defaults` apply to every cycle (tests shorten timeouts). */
export function createDevCycleRoutes(defaults: Partial<DevCycleOptions> = {}): RouteModule {
  return {
    name: "dev-cycle",
    register(routes, state) {
      const runner = new DevCycleRunner(state.home, defaults);
      // A server that stops takes its cycle down with it (no orphaned process groups).
      state.shutdown.signal.addEventListener("abort", () => void runner.stop(), { once: true });

      routes.post("/api/dev-cycle/start", async (c) => {
        const body = await readJsonObject(c.req.raw, state.bodyLimit);
        if (body.commit !== undefined && body.commit !== false) {
          throw new HttpError(
            400,
            "the API never commits: run 'dspy-code dev-cycle --commit' on the machine",
          );
        }
        const unknown = Object.keys(body).filter((k) => !["only", "skip", "tests", "commit"].includes(k));
        if (unknown.length) {
          throw new HttpError(400, `unknown field(s) ${unknown.join(", ")}: send only, skip, tests`);
        }
        if (body.tests !== undefined && (typeof body.tests !== "string" || !body.tests.trim())) {
          throw new HttpError(400, 'tests must be test files or folders as a string, e.g. "tests/ops/"');
        }
        const options: RunnerStartOptions = {
          only: stageListParam("only", body.only),
          skip: stageListParam("skip", body.skip),
          tests: body.tests as string | undefined,
        };
        try {
          const { started } = await runner.start(options);
          return c.json({ ok: true, started, status: runner.status() }, 202);
        } catch (err) {
          if (err instanceof DevCycleBusyError) {
            throw new HttpError(409, err.message, { extra: { ok: false } });
          }
          throw err;
        }
      }, { admin: true });

      routes.post("/api/dev-cycle/stop", async (c) => {
        await readJsonObject(c.req.raw, state.bodyLimit);
        const stopped = await runner.stop();
        return c.json(
          stopped
            ? { ok: true, stopped: true, status: runner.status() }
            : { ok: true, stopped: false, message: "not running" },
        );
      }, { admin: true });

      routes.get("/api/dev-cycle/status", (c) => c.json(runner.status()));

      routes.get("/api/dev-cycle/logs", async (c) => {
        let bytes: Uint8Array<ArrayBuffer>;
        try {
          bytes = await Deno.readFile(runner.logFile);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
          return c.body(NO_LOGS, 200, {
            "content-type": "text/plain; charset=utf-8",
            "cache-control": "no-store",
          });
        }
        return c.body(bytes, 200, {
          "content-type": "text/plain; charset=utf-8",
          "content-disposition": 'attachment; filename="dev_cycle.log"',
          "cache-control": "no-store",
          "x-content-type-options": "nosniff",
        });
      });

      routes.get("/api/dev-cycle/stream", (c) => {
        const lastId = numericLastEventId(c.req.raw, "last event id");
        return sseResponse({
          request: c.req.raw,
          completed: c.env?.completed,
          registry: state.sse,
          keepAliveMs: state.keepAliveMs,
          async start(sink) {
            let sent = 0;
            const pending: { seq: number; event: string; data: unknown }[] = [];
            let live = false;
            const stop = runner.listen((e) => {
              if (!live) pending.push(e);
              else if (e.seq > sent) {
                sink.send({ event: e.event, id: String(e.seq), data: e.data });
                sent = e.seq;
              }
            });
            sink.signal.addEventListener("abort", stop, { once: true });
            const missed = runner.since(lastId);
            const replay = missed ?? runner.since()!;
            for (const e of replay) {
              sink.send({ event: e.event, id: String(e.seq), data: e.data });
              sent = e.seq;
            }
            for (const e of pending) {
              if (e.seq > sent) {
                sink.send({ event: e.event, id: String(e.seq), data: e.data });
                sent = e.seq;
              }
            }
            const status = runner.status();
            sink.send({
              event: "ready",
              id: String(Math.max(sent, status.seq)),
              data: {
                resumed: lastId !== undefined && missed !== null,
                running: status.running,
                seq: status.seq,
              },
            });
            sent = Math.max(sent, status.seq);
            live = true;
            await new Promise<void>((r) => sink.signal.addEventListener("abort", () => r(), { once: true }));
          },
        });
      });
    },
  };
}

/** The dev-cycle routes with the default settings. */
export const devCycleRoutes: RouteModule = createDevCycleRoutes();

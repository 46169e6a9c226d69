/**
 * Experiments over HTTP, with the original tool's routes and bodies (`docs/experiments.md`):
 *
 * - `POST /api/experiments/run` (admin) `{dataset_path, model?, model_path?, backend?, batch_size?,
 *   max_count?, normalize?, infermesh_url?, store?}` or `{kind: "rl", env, steps, ...}` → `{ok, id}`;
 *   `POST /api/experiments/sweep` (admin) `{dataset_path, models, batch_sizes, ...}` → `{ok, id}`.
 *   Bad bodies are 400 `{ok: false, error}`; every path must resolve inside the workspace.
 * - `GET /api/experiments/status?id=` → the record plus its last 50 log lines (404 for an unknown id);
 *   `GET /api/experiments/list`, `GET /api/experiments/history?limit=` → `{items}` (history read from the
 *   end of `history.jsonl`); `GET /api/experiments/compare?ids=a,b`.
 * - `GET /api/experiments/stream?id=` (SSE): the log lines, `id:` = line number, resumable with
 *   `Last-Event-ID` (or `?last_id=`), ending with an `event: done` frame carrying the final record.
 * - `POST /api/experiments/cancel` (admin) `{id}` → `{ok, id, status}`.
 * - `GET /api/experiments/schedules` → `{items}` with `next_fire`; `POST` (admin) `{name, cron, args}` adds
 *   (`replace: true` replaces), `{name, action: "pause"|"resume"|"run"}` acts; `DELETE ?name=` (admin).
 * - `GET /api/datasets/preview?path=` → `{path, preview}` (the first 5 texts).
 *
 * @module
 */

import { errorMessage, UserError } from "../../core/errors.ts";
import {
  addSchedule,
  cancelExperiment,
  compareExperiments,
  confinePath,
  ExperimentNotFoundError,
  type ExperimentSpec,
  finishedHistory,
  fireSchedule,
  isTerminal,
  listExperiments,
  listSchedules,
  previewDataset,
  readExperiment,
  readLogLines,
  removeSchedule,
  requireExperiment,
  scheduleNextFire,
  ScheduleNotFoundError,
  setSchedulePaused,
  specFrom,
  startExperiment,
} from "../../experiments/mod.ts";
import type { AppContext, RouteModule } from "../app.ts";
import { HttpError, intParam, readJsonBody } from "../http.ts";
import { numericLastEventId, sseResponse } from "../sse.ts";

/** Runs `fn`, turning a user error into 400 `{ok: false, error}` and a missing record into 404. */
async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof ExperimentNotFoundError || err instanceof ScheduleNotFoundError) {
      throw new HttpError(404, err.message, { extra: { ok: false } });
    }
    if (err instanceof UserError && !("status" in err && err.status === 507)) {
      throw new HttpError(400, errorMessage(err), { extra: { ok: false } });
    }
    throw err;
  }
}

async function body(c: AppContext, limit: number): Promise<Record<string, unknown>> {
  const b = await readJsonBody(c.req.raw, limit);
  if (typeof b !== "object" || b === null || Array.isArray(b)) {
    throw new HttpError(400, "the request body must be a JSON object", { extra: { ok: false } });
  }
  return b as Record<string, unknown>;
}

function idParam(c: AppContext): string {
  const id = c.req.query("id");
  if (!id) throw new HttpError(400, "id required: ?id=EXPERIMENT_ID");
  if (id.length > 64 || !/^[A-Za-z0-9_.-]+$/.test(id)) throw new HttpError(400, "id is not an experiment id");
  return id;
}

/** The experiments routes. */
export const experimentRoutes: RouteModule = {
  name: "experiments",
  register(routes, state) {
    const start = async (c: AppContext, kind: "embed" | "rl" | "sweep", b: Record<string, unknown>) => {
      const rec = await userErrors(async () => {
        const spec: ExperimentSpec = specFrom(kind, b);
        if (spec.kind !== "rl") {
          const path = await confinePath(state.workspace, spec.params.dataset_path, {
            label: "dataset_path",
          });
          if ((await previewDataset(state.workspace, path, 1)).length === 0) {
            throw new UserError(`no texts loaded from ${path}`);
          }
        }
        return await startExperiment(state.workspace, spec, { trigger: "api" });
      });
      return c.json({ ok: true, id: rec.id });
    };
    routes.post("/api/experiments/run", async (c) => {
      const b = await body(c, state.bodyLimit);
      const kind = b.kind === undefined ? "embed" : b.kind;
      if (kind !== "embed" && kind !== "rl") {
        throw new HttpError(400, "kind must be embed or rl (POST /api/experiments/sweep for sweeps)", {
          extra: { ok: false },
        });
      }
      const { kind: _k, ...rest } = b;
      return await start(c, kind, rest);
    }, { admin: true });
    routes.post("/api/experiments/sweep", async (c) => {
      const { kind: _k, ...rest } = await body(c, state.bodyLimit);
      return await start(c, "sweep", rest);
    }, { admin: true });

    routes.get("/api/experiments/status", async (c) => {
      const id = idParam(c);
      const rec = await userErrors(() => readExperiment(state.workspace, id));
      const { lines } = await readLogLines(state.workspace, id);
      return c.json({ ...rec, logs: lines.slice(-50) });
    });
    routes.get("/api/experiments/list", async (c) => {
      const limit = intParam("limit", c.req.query("limit"), 100, 1, 1000);
      return c.json({ items: await listExperiments(state.workspace, { limit, includeChildren: true }) });
    });
    routes.get("/api/experiments/history", async (c) => {
      const limit = intParam("limit", c.req.query("limit"), 100, 1, 5000);
      return c.json({ items: await finishedHistory(state.workspace, limit) });
    });
    routes.get("/api/experiments/compare", async (c) => {
      const ids = (c.req.query("ids") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      if (ids.length < 2 || ids.length > 20) throw new HttpError(400, "ids must list 2 to 20 experiment ids");
      return c.json(await userErrors(() => compareExperiments(state.workspace, ids)));
    });
    routes.post("/api/experiments/cancel", async (c) => {
      const b = await body(c, state.bodyLimit);
      if (typeof b.id !== "string" || !b.id) {
        throw new HttpError(400, 'id required: {"id": "EXPERIMENT_ID"}', { extra: { ok: false } });
      }
      const rec = await userErrors(() => cancelExperiment(state.workspace, b.id as string));
      return c.json({ ok: true, id: rec.id, status: rec.status, cancel_requested: !!rec.cancel_requested });
    }, { admin: true });

    routes.get("/api/experiments/stream", async (c) => {
      const id = idParam(c);
      let seen = numericLastEventId(c.req.raw, "last line number") ?? 0;
      await userErrors(() => requireExperiment(state.workspace, id));
      const ws = state.workspace;
      return sseResponse({
        request: c.req.raw,
        completed: c.env?.completed,
        registry: state.sse,
        keepAliveMs: state.keepAliveMs,
        async start(sink) {
          const first = await readLogLines(ws, id, { line: seen });
          let byte = first.byte;
          for (const line of first.lines) sink.send({ id: String(++seen), data: JSON.stringify(line) });
          while (!sink.signal.aborted) {
            const rec = await readExperiment(ws, id);
            const next = await readLogLines(ws, id, { byte });
            byte = next.byte;
            for (const line of next.lines) {
              if (!sink.send({ id: String(++seen), data: JSON.stringify(line) })) return;
            }
            if (isTerminal(rec.status) && next.lines.length === 0) {
              sink.send({
                event: "done",
                id: String(seen),
                data: { id, status: rec.status, metrics: rec.metrics, error: rec.error },
              });
              return;
            }
            await new Promise((r) => setTimeout(r, Math.max(50, state.pollMs)));
          }
        },
      });
    });

    routes.get("/api/experiments/schedules", async (c) => {
      const items = (await listSchedules(state.workspace)).map((s) => ({
        ...s,
        next_fire: scheduleNextFire(s)?.toISOString() ?? null,
      }));
      return c.json({ items });
    });
    routes.post("/api/experiments/schedules", async (c) => {
      const b = await body(c, state.bodyLimit);
      return await userErrors(async () => {
        if (typeof b.name !== "string") throw new UserError('name required: {"name": "nightly", ...}');
        if (b.action !== undefined) {
          if (b.action === "run") {
            return c.json({ ok: true, firing: await fireSchedule(state.workspace, b.name) });
          }
          if (b.action !== "pause" && b.action !== "resume") {
            throw new UserError("action must be pause, resume or run");
          }
          const s = await setSchedulePaused(state.workspace, b.name, b.action === "pause");
          return c.json({
            ok: true,
            schedule: { ...s, next_fire: scheduleNextFire(s)?.toISOString() ?? null },
          });
        }
        const args = typeof b.args === "string" ? b.args.trim().split(/\s+/) : b.args;
        if (typeof b.cron !== "string") throw new UserError('cron required: {"cron": "0 3 * * *"}');
        const s = await addSchedule(state.workspace, {
          name: b.name,
          cron: b.cron,
          args: args as string[],
          replace: b.replace === true,
        });
        return c.json({
          ok: true,
          schedule: { ...s, next_fire: scheduleNextFire(s)?.toISOString() ?? null },
        });
      });
    }, { admin: true });
    routes.delete("/api/experiments/schedules", async (c) => {
      const name = c.req.query("name");
      if (!name) throw new HttpError(400, "name required: ?name=SCHEDULE", { extra: { ok: false } });
      await userErrors(() => removeSchedule(state.workspace, name));
      return c.json({ ok: true, removed: name });
    }, { admin: true });

    routes.get("/api/datasets/preview", async (c) => {
      const raw = c.req.query("path");
      if (!raw) throw new HttpError(400, "path required");
      return await userErrors(async () => {
        const path = await confinePath(state.workspace, raw, { label: "path" });
        return c.json({ path, preview: await previewDataset(state.workspace, path, 5) });
      });
    });
  },
};

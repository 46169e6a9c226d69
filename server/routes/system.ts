/**
 * System routes: the active workspace (`GET/POST /api/system/workspace`), the resource guard
 * (`GET /api/system/guard` evaluates, `POST` validates and saves thresholds in KV, then evaluates), and
 * `GET /api/system/resources` (disk, memory, CPU load, GPUs, plus a short sampled history for sparklines).
 *
 * @module
 */

import { resolve } from "node:path";
import {
  checkGuard,
  evaluateGuard,
  parseGuardThresholds,
  readGuardThresholds,
  resourceSnapshot,
  saveGuardThresholds,
} from "../../core/guard.ts";
import { UserError } from "../../core/errors.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import type { RouteModule } from "../app.ts";
import { HttpError, readJsonObject } from "../http.ts";
import { StreamHub } from "../event_hub.ts";
import type { ServerState } from "../state.ts";

/** KV key remembering the workspace chosen in the dashboard. */
export const WORKSPACE_KV_KEY: Deno.KvKey = ["server", "workspace"];

/** Takes one resource sample into the history ring. */
export async function sampleResources(state: ServerState): Promise<void> {
  const s = await resourceSnapshot(state.workspace);
  state.resourceHistory.push({
    disk_free_gb: s.disk.free_gb,
    mem_free_gb: s.memory.free_gb,
    load1: s.cpu.load1,
  });
}

/**
 * Switches the active workspace. The path (absolute, or relative to the active workspace) is resolved by
 * the file system itself — `/nonexistent/../..` fails because `/nonexistent` does not exist, instead of
 * being normalised to `/` first — and must be an existing, readable directory other than the file-system
 * root. Nothing is created in it here: its `.dspy/` appears when a route first uses its state.
 */
export async function switchWorkspace(state: ServerState, path: string): Promise<string> {
  const given = path.startsWith("/") ? path : `${state.workspace}/${path}`;
  let real: string;
  try {
    real = await Deno.realPath(given);
  } catch {
    throw new HttpError(
      400,
      `workspace path ${path.slice(0, 300)} does not exist (every folder on the way must exist): ` +
        `give an existing directory`,
    );
  }
  if (real === resolve(real, "..")) {
    throw new HttpError(
      400,
      `workspace path ${path.slice(0, 300)} is the file-system root: pick a project folder`,
    );
  }
  const info = await Deno.stat(real);
  if (!info.isDirectory) throw new HttpError(400, `workspace path ${real} is not a directory`);
  try {
    for await (const _ of Deno.readDir(real)) break;
  } catch (err) {
    throw new HttpError(400, `cannot read ${real}: ${err instanceof Error ? err.message : err}`);
  }
  if (real !== state.workspace) {
    const old = state.hub;
    state.workspace = real;
    state.hub = new StreamHub(() => state.kv(), { pollMs: state.pollMs });
    await old.close();
  }
  return real;
}

/** The system routes. */
export const systemRoutes: RouteModule = {
  name: "system",
  register(routes, state) {
    routes.get(
      "/api/system/workspace",
      (c) => c.json({ path: state.workspace, home: state.home, is_home: state.workspace === state.home }),
    );

    routes.post("/api/system/workspace", async (c) => {
      const body = await readJsonObject(c.req.raw, state.bodyLimit, state.bodyTimeoutMs);
      if (typeof body.path !== "string" || body.path.trim() === "" || body.path.length > 4096) {
        throw new HttpError(400, 'send {"path": "/absolute/dir"} with an existing directory');
      }
      if (body.path.includes("\0")) throw new HttpError(400, "path must not contain NUL bytes");
      const path = await switchWorkspace(state, body.path.trim());
      // Remembered in the home workspace's KV (the server's own state), not in the new one.
      openWorkspaceKv(state.home).then((kv) => kv.set(WORKSPACE_KV_KEY, path)).catch(() => {});
      return c.json({ ok: true, path });
    }, { admin: true });

    routes.get("/api/system/guard", async (c) => {
      return c.json(await checkGuard(state.workspace, { kv: await state.kv() }));
    });

    routes.post("/api/system/guard", async (c) => {
      const body = await readJsonObject(c.req.raw, state.bodyLimit, state.bodyTimeoutMs);
      const kv = await state.kv();
      let thresholds;
      try {
        thresholds = parseGuardThresholds(body, await readGuardThresholds(kv));
      } catch (err) {
        if (err instanceof UserError) throw new HttpError(400, err.message);
        throw err;
      }
      await saveGuardThresholds(kv, thresholds);
      return c.json(evaluateGuard(await resourceSnapshot(state.workspace), thresholds));
    }, { admin: true });

    routes.get("/api/system/resources", async (c) => {
      const kv = await state.kv();
      const snapshot = await resourceSnapshot(state.workspace);
      const g = evaluateGuard(snapshot, await readGuardThresholds(kv));
      return c.json({
        ...snapshot,
        guard: { ok: g.ok, disk_ok: g.disk_ok, ram_ok: g.ram_ok, gpu_ok: g.gpu_ok, thresholds: g.thresholds },
        history: state.resourceHistory.list(),
      });
    });
  },
};

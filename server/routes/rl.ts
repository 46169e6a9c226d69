/**
 * RL training curves: `GET /api/rl/runs` lists `.dspy/rl/runs/*` with their latest point, and
 * `GET /api/rl/runs/:id` returns the numeric series of `metrics.jsonl` (every numeric field, and the mean
 * of numeric arrays such as per-episode returns) keyed by name, with `step` as the x axis. Lines are read
 * defensively: blank, torn or non-object lines are counted and skipped. Run ids are plain names, and files
 * are opened through `core/confined.ts` (regular files whose real path is inside the workspace only).
 *
 * @module
 */

import { join } from "node:path";
import { ConfinedPathError, openConfined } from "../../core/confined.ts";
import { workspacePaths } from "../../core/workspace.ts";
import type { RouteModule } from "../app.ts";
import { HttpError, intParam } from "../http.ts";

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_BYTES = 64 * 1024 * 1024;

/** Parsed metrics of one run. */
export interface RunSeries {
  id: string;
  points: number;
  skipped: number;
  /** x values (the `step` field, else the line number). */
  step: number[];
  /** name → values aligned with `step` (null where a line lacks the field). */
  series: Record<string, (number | null)[]>;
}

function numericFields(obj: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === "step") continue;
    if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
    else if (
      Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number" && Number.isFinite(x))
    ) {
      out[`${k}_mean`] = (v as number[]).reduce((a, b) => a + b, 0) / v.length;
    } else if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (typeof v2 === "number" && Number.isFinite(v2)) out[`${k}.${k2}`] = v2;
      }
    }
  }
  return out;
}

/** Parses metrics.jsonl text into aligned series, keeping at most `max` points (evenly strided). */
export function parseRunMetrics(id: string, text: string, max: number): RunSeries {
  const rows: { step: number; fields: Record<string, number> }[] = [];
  let skipped = 0;
  let index = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    index++;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
      skipped++;
      continue;
    }
    const rec = obj as Record<string, unknown>;
    const step = typeof rec.step === "number" && Number.isFinite(rec.step) ? rec.step : index;
    rows.push({ step, fields: numericFields(rec) });
  }
  const stride = rows.length > max ? rows.length / max : 1;
  const picked = stride === 1 ? rows : Array.from({ length: max }, (_, i) => rows[Math.floor(i * stride)]);
  if (stride !== 1 && rows.length) picked[picked.length - 1] = rows[rows.length - 1];
  const names = new Set<string>();
  for (const r of picked) for (const k of Object.keys(r.fields)) names.add(k);
  const series: Record<string, (number | null)[]> = {};
  for (const name of [...names].sort()) series[name] = picked.map((r) => r.fields[name] ?? null);
  return { id, points: rows.length, skipped, step: picked.map((r) => r.step), series };
}

/**
 * Reads at most the last {@link MAX_BYTES} of a run's metrics through the confined open (a regular file
 * whose real path is inside the workspace: a planted symlink to an outside file is refused).
 */
async function readCapped(root: string, path: string): Promise<{ text: string; info: Deno.FileInfo }> {
  const { file, info } = await openConfined(root, path);
  try {
    const want = Math.min(info.size, MAX_BYTES);
    if (want < info.size) await file.seek(info.size - want, Deno.SeekMode.Start);
    const buf = new Uint8Array(want);
    let off = 0;
    while (off < want) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    const text = new TextDecoder().decode(buf.subarray(0, off));
    return { text: want < info.size ? text.slice(text.indexOf("\n") + 1) : text, info };
  } finally {
    file.close();
  }
}

/** The RL routes. */
export const rlRoutes: RouteModule = {
  name: "rl",
  register(routes, state) {
    const runsDir = () => join(workspacePaths(state.workspace).rlDir, "runs");

    routes.get("/api/rl/runs", async (c) => {
      const runs: {
        id: string;
        mtime: number | null;
        bytes: number;
        last: Record<string, unknown> | null;
      }[] = [];
      try {
        for await (const e of Deno.readDir(runsDir())) {
          if (!e.isDirectory || !RUN_ID.test(e.name)) continue;
          const file = join(runsDir(), e.name, "metrics.jsonl");
          let read: { text: string; info: Deno.FileInfo };
          try {
            read = await readCapped(state.workspace, file);
          } catch {
            continue; // missing, not a regular file, or outside the workspace: not a run
          }
          const { info, text } = read;
          let last: Record<string, unknown> | null = null;
          {
            const lines = text.trimEnd().split("\n");
            for (let i = lines.length - 1; i >= 0 && i >= lines.length - 5; i--) {
              try {
                const v = JSON.parse(lines[i]);
                if (v && typeof v === "object" && !Array.isArray(v)) {
                  last = v;
                  break;
                }
              } catch { /* torn last line */ }
            }
          }
          runs.push({
            id: e.name,
            mtime: info.mtime ? info.mtime.getTime() / 1000 : null,
            bytes: info.size,
            last,
          });
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      runs.sort((a, b) => (b.mtime ?? 0) - (a.mtime ?? 0));
      return c.json({ dir: runsDir(), runs });
    });

    routes.get("/api/rl/runs/:id", async (c) => {
      const id = c.req.param("id") ?? "";
      if (!RUN_ID.test(id)) {
        throw new HttpError(400, "run id must be a plain name (letters, digits, '.', '_', '-')");
      }
      const max = intParam("max", c.req.query("max"), 2000, 2, 100_000);
      const file = join(runsDir(), id, "metrics.jsonl");
      let text: string;
      try {
        text = (await readCapped(state.workspace, file)).text;
      } catch (err) {
        if (err instanceof ConfinedPathError) {
          if (err.reason === "not-found") throw new HttpError(404, `no RL run '${id}' (no ${file})`);
          throw new HttpError(403, `RL run '${id}': ${err.message}`);
        }
        throw err;
      }
      return c.json(parseRunMetrics(id, text, max));
    });
  },
};

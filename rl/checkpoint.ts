/**
 * Training checkpoints: `<name>.json` holds the metadata a person reads (`step`, `avg_reward`, `best_avg`,
 * `config`) plus the learner's small state (generator, counters, env snapshot), and `<name>.bin` holds
 * every numeric array (weights, both optimizers' moments, replay buffer, episode returns) as little-endian
 * float64, located by the `arrays` table in the JSON. `latest` is rewritten every checkpoint, `best` when the
 * average reward improves. Both files are written atomically (binary first, JSON last).
 *
 * @module
 */

import { join } from "node:path";
import { atomicWriteFile, atomicWriteJson } from "../core/atomic.ts";
import { UserError } from "../core/errors.ts";

/** Format tag of the checkpoint JSON. */
export const CHECKPOINT_FORMAT = "dspy-code-rl-checkpoint/1";

/** The JSON part of a checkpoint. */
export interface CheckpointMeta {
  format: string;
  step: number;
  avg_reward: number | null;
  best_avg: number | null;
  config: Record<string, unknown>;
  /** Name → [offset, length] in float64 elements of the `.bin` file. */
  arrays: Record<string, [number, number]>;
  /** Learner state that is not an array (counters, generator, env snapshot). */
  state: Record<string, unknown>;
  saved_at: string;
}

/** A loaded checkpoint. */
export interface Checkpoint {
  meta: CheckpointMeta;
  arrays: Record<string, Float64Array>;
  /** Path of the JSON file. */
  path: string;
}

/** Writes `<dir>/<name>.bin` then `<dir>/<name>.json`. Returns the JSON path. */
export async function saveCheckpoint(
  dir: string,
  name: string,
  meta: Omit<CheckpointMeta, "arrays" | "format" | "saved_at">,
  arrays: Record<string, Float64Array>,
): Promise<string> {
  const table: Record<string, [number, number]> = {};
  let total = 0;
  for (const [k, a] of Object.entries(arrays)) {
    table[k] = [total, a.length];
    total += a.length;
  }
  const bin = new Float64Array(total);
  for (const [k, a] of Object.entries(arrays)) bin.set(a, table[k][0]);
  await atomicWriteFile(join(dir, `${name}.bin`), new Uint8Array(bin.buffer));
  const path = join(dir, `${name}.json`);
  await atomicWriteJson(
    path,
    {
      format: CHECKPOINT_FORMAT,
      ...meta,
      arrays: table,
      saved_at: new Date().toISOString(),
    } satisfies CheckpointMeta,
  );
  return path;
}

/**
 * Loads a checkpoint from a `.json` path, a `.bin` path, or a directory (then `latest.json`).
 * Throws a {@link UserError} that says what is wrong.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let jsonPath = path;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) jsonPath = join(path, "latest.json");
  } catch {
    throw new UserError(
      `checkpoint ${path} does not exist: pass a checkpoint directory or its latest.json/best.json`,
    );
  }
  if (jsonPath.endsWith(".bin")) jsonPath = jsonPath.slice(0, -4) + ".json";
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await Deno.readTextFile(jsonPath));
  } catch (err) {
    throw new UserError(`cannot read checkpoint ${jsonPath}: ${err instanceof Error ? err.message : err}`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new UserError(`${jsonPath} is not a dspy-code RL checkpoint (format '${meta.format}')`);
  }
  const binPath = jsonPath.slice(0, -5) + ".bin";
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(binPath);
  } catch {
    throw new UserError(`checkpoint weights ${binPath} are missing: the checkpoint is incomplete`);
  }
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const all = new Float64Array(copy.buffer, 0, Math.floor(copy.length / 8));
  const arrays: Record<string, Float64Array> = {};
  for (const [k, [off, len]] of Object.entries(meta.arrays)) {
    if (off + len > all.length) throw new UserError(`checkpoint weights ${binPath} are truncated`);
    arrays[k] = all.slice(off, off + len);
  }
  return { meta, arrays, path: jsonPath };
}

/**
 * Confines every path an experiment names (its dataset, a local model folder) to the workspace, before
 * the experiment is queued and again when it runs. Refused, each with a message saying why: a `..`
 * component, an absolute path outside the workspace, a path leading outside through a symlink, anything
 * that is not a regular file (devices, FIFOs, folders) where a file is expected, and files over the size
 * limit (`DSPY_EXPERIMENT_MAX_BYTES`, default 512 MiB). The result is the path relative to the workspace.
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";
import { isAbsolute, normalize, relative, resolve } from "../core/path.ts";

/** Default largest dataset, in bytes. */
export const DEFAULT_MAX_DATASET_BYTES = 512 * 1024 * 1024;

/** Why a path was refused. */
export type PathRefusal =
  | "empty"
  | "dotdot"
  | "outside"
  | "symlink"
  | "not-found"
  | "not-a-file"
  | "too-large";

/** A refused path (a usage error: exit 2, HTTP 400). */
export class ExperimentPathError extends UsageError {
  /** Machine-readable reason. */
  readonly reason: PathRefusal;
  constructor(reason: PathRefusal, message: string) {
    super(message);
    this.name = "ExperimentPathError";
    this.reason = reason;
  }
}

/** The configured dataset size limit. */
export function maxDatasetBytes(): number {
  const raw = Deno.env.get("DSPY_EXPERIMENT_MAX_BYTES");
  const n = raw ? Number(raw) : NaN;
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_MAX_DATASET_BYTES;
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith("/") ? root : root + "/");
}

/** Options of {@link confinePath}. */
export interface ConfineOptions {
  /** What is expected there (default `file`). */
  expect?: "file" | "dir";
  /** Largest file in bytes (default {@link maxDatasetBytes}). */
  maxBytes?: number;
  /** Names the path in messages (default `path`). */
  label?: string;
}

/**
 * Resolves `raw` (relative to the workspace, or absolute inside it) and checks it. Returns the path
 * relative to the workspace's real path.
 *
 * @throws ExperimentPathError
 */
export async function confinePath(
  workspace: string,
  raw: string,
  options: ConfineOptions = {},
): Promise<string> {
  const label = options.label ?? "path";
  const expect = options.expect ?? "file";
  if (typeof raw !== "string" || raw.trim() === "") {
    throw new ExperimentPathError("empty", `${label} is empty`);
  }
  if (raw.includes("\0")) throw new ExperimentPathError("not-found", `${label} contains a NUL byte`);
  if (raw.split(/[\\/]/).includes("..")) {
    throw new ExperimentPathError(
      "dotdot",
      `${label} '${raw}' contains '..': give a path inside the workspace without '..'`,
    );
  }
  const realRoot = await Deno.realPath(workspace);
  const abs = isAbsolute(raw) ? normalize(raw) : resolve(realRoot, raw);
  if (!inside(realRoot, abs) && !inside(normalize(workspace), abs)) {
    throw new ExperimentPathError(
      "outside",
      `${label} '${raw}' is outside the workspace ${realRoot}: copy the file into the workspace`,
    );
  }
  let real: string;
  try {
    real = await Deno.realPath(abs);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ExperimentPathError("not-found", `${label} '${raw}' does not exist in the workspace`);
    }
    throw err;
  }
  if (!inside(realRoot, real)) {
    throw new ExperimentPathError(
      "symlink",
      `${label} '${raw}' leads outside the workspace through a symlink; refusing it`,
    );
  }
  const info = await Deno.stat(real);
  if (expect === "dir") {
    if (!info.isDirectory) throw new ExperimentPathError("not-a-file", `${label} '${raw}' is not a folder`);
  } else {
    if (!info.isFile) {
      throw new ExperimentPathError(
        "not-a-file",
        `${label} '${raw}' is not a regular file (folders, devices and FIFOs are refused)`,
      );
    }
    const max = options.maxBytes ?? maxDatasetBytes();
    if (info.size > max) {
      throw new ExperimentPathError(
        "too-large",
        `${label} '${raw}' is ${info.size} bytes, over the limit of ${max} bytes (DSPY_EXPERIMENT_MAX_BYTES)`,
      );
    }
  }
  return relative(realRoot, real) || ".";
}

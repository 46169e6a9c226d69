/**
 * The resource guard: heavy operations (RL training, embedding jobs, experiments) call {@link guard} before
 * they start, and it refuses with {@link InsufficientResourcesError} (HTTP 507 on the server, exit code 1 on
 * the CLI) when free disk, free RAM or free GPU memory is below the workspace's thresholds. Thresholds live
 * in the workspace's KV (`["guard", "thresholds"]`), so the dashboard's Guard Settings, the CLI and every
 * process reading that workspace agree. A threshold of 0 disables that check.
 *
 * It lives in `core/` so `rl/` and `embeddings/` can call it without importing the server.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { UserError } from "./errors.ts";
import { openWorkspaceKv } from "./kv.ts";

/** Minimum free resources a heavy operation needs. 0 disables a check. */
export interface GuardThresholds {
  /** Free disk space on the workspace's file system, in GiB. */
  min_free_gb: number;
  /** Available RAM, in GiB. */
  min_ram_gb: number;
  /** Free memory on at least one GPU, in MiB (passes when no GPU is present). */
  min_vram_mb: number;
}

/** Thresholds used until someone saves others (the old tool's defaults). */
export const DEFAULT_GUARD_THRESHOLDS: Readonly<GuardThresholds> = Object.freeze({
  min_free_gb: 2,
  min_ram_gb: 1,
  min_vram_mb: 0,
});

/** KV key holding the workspace's thresholds. */
export const GUARD_KV_KEY: Deno.KvKey = ["guard", "thresholds"];

/** One GPU as `nvidia-smi` reports it. */
export interface GpuInfo {
  name: string;
  mem_used_mb: number;
  mem_total_mb: number;
  mem_free_mb: number;
  util_pct: number;
}

/** A point-in-time view of the machine's resources. */
export interface ResourceSnapshot {
  /** Seconds since the epoch. */
  ts: number;
  /** The file system holding `path`. */
  disk: { path: string; total_gb: number; free_gb: number; used_pct: number };
  /** Memory in GiB (`free_gb` is what the kernel reports as available). */
  memory: { total_gb: number; free_gb: number; used_pct: number };
  /** Load averages and core count. */
  cpu: { load1: number; load5: number; load15: number; cores: number };
  /** GPUs (empty when `nvidia-smi` is missing or fails). */
  gpus: GpuInfo[];
}

/** The result of checking a snapshot against thresholds. */
export interface GuardEvaluation {
  ok: boolean;
  disk_ok: boolean;
  ram_ok: boolean;
  gpu_ok: boolean;
  thresholds: GuardThresholds;
  snapshot: ResourceSnapshot;
}

/** Thrown by {@link guard} when resources are short. `status` is the HTTP status the server answers. */
export class InsufficientResourcesError extends UserError {
  /** HTTP 507 Insufficient Storage, as the old server answered. */
  readonly status = 507;
  /** What was measured. */
  readonly evaluation: GuardEvaluation;
  constructor(message: string, evaluation: GuardEvaluation) {
    super(message);
    this.name = "InsufficientResourcesError";
    this.evaluation = evaluation;
  }
}

const GIB = 1024 ** 3;
const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Validates user-given thresholds (from JSON or flags). Missing keys keep `base`'s value; each given value
 * must be a finite number ≥ 0 (numeric strings are accepted). Throws a {@link UserError} naming the key.
 */
export function parseGuardThresholds(
  input: unknown,
  base: GuardThresholds = DEFAULT_GUARD_THRESHOLDS,
): GuardThresholds {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new UserError('guard thresholds must be a JSON object like {"min_free_gb": 2, "min_ram_gb": 1}');
  }
  const out: GuardThresholds = { ...base };
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(DEFAULT_GUARD_THRESHOLDS) as (keyof GuardThresholds)[]) {
    const raw = record[key];
    if (raw === undefined || raw === null) continue;
    const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
      throw new UserError(`${key} must be a number ≥ 0 (0 disables the check), got ${JSON.stringify(raw)}`);
    }
    out[key] = n;
  }
  return out;
}

/** Reads the workspace's thresholds (defaults when none were saved). */
export async function readGuardThresholds(kv: Deno.Kv): Promise<GuardThresholds> {
  const entry = await kv.get<GuardThresholds>(GUARD_KV_KEY);
  if (!entry.value) return { ...DEFAULT_GUARD_THRESHOLDS };
  try {
    return parseGuardThresholds(entry.value);
  } catch {
    return { ...DEFAULT_GUARD_THRESHOLDS };
  }
}

/** Saves thresholds for the workspace. */
export async function saveGuardThresholds(kv: Deno.Kv, thresholds: GuardThresholds): Promise<void> {
  await kv.set(GUARD_KV_KEY, parseGuardThresholds(thresholds));
}

let gpuCache: { at: number; value: Promise<GpuInfo[]> } | undefined;
/** Until when `nvidia-smi` is known to be missing (0: not known). */
let nvidiaSmiMissingUntil = 0;
/** How long a missing `nvidia-smi` is believed missing before it is looked for again. */
const MISSING_RECHECK_MS = 5 * 60_000;

/** GPU information, queried at most every 2 s (dashboards poll several routes that need it). */
function gpuInfo(): Promise<GpuInfo[]> {
  const now = Date.now();
  if (!gpuCache || now - gpuCache.at > 2000) gpuCache = { at: now, value: queryGpus(now) };
  return gpuCache.value;
}

async function queryGpus(now: number): Promise<GpuInfo[]> {
  // On a machine without NVIDIA's tools, do not spawn a process every few seconds to learn it again: a
  // server samples resources every 5 s, and each failed spawn forks the whole process first.
  if (now < nvidiaSmiMissingUntil) return [];
  try {
    const cmd = new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=name,memory.used,memory.total,utilization.gpu", "--format=csv,noheader,nounits"],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(3000),
    });
    const { success, stdout } = await cmd.output();
    if (!success) return [];
    const gpus: GpuInfo[] = [];
    for (const line of new TextDecoder().decode(stdout).split("\n")) {
      const parts = line.split(",").map((s) => s.trim());
      if (parts.length < 4) continue;
      const [used, total, util] = parts.slice(1, 4).map(Number);
      if (![used, total].every(Number.isFinite)) continue;
      gpus.push({
        name: parts[0],
        mem_used_mb: used,
        mem_total_mb: total,
        mem_free_mb: total - used,
        util_pct: Number.isFinite(util) ? util : 0,
      });
    }
    return gpus;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) nvidiaSmiMissingUntil = now + MISSING_RECHECK_MS;
    return []; // nvidia-smi missing or timed out: no GPU information
  }
}

/**
 * Size and free space of the file system holding `path` (`statfs`; free is what an unprivileged user may
 * still write, like `df`'s "Available"). The one disk measurement of the tree: the guard, the server's
 * resources route and `doctor` all use it.
 */
export async function diskUsage(path: string): Promise<ResourceSnapshot["disk"]> {
  const fs = await statfs(path);
  const totalDisk = fs.blocks * fs.bsize;
  const freeDisk = fs.bavail * fs.bsize;
  return {
    path,
    total_gb: round2(totalDisk / GIB),
    free_gb: round2(freeDisk / GIB),
    used_pct: totalDisk > 0 ? round2(100 * (1 - fs.bfree / fs.blocks)) : 0,
  };
}

/** Measures disk (of `path`'s file system), memory, CPU load and GPUs. */
export async function resourceSnapshot(path: string): Promise<ResourceSnapshot> {
  const [disk, gpus] = await Promise.all([diskUsage(path), gpuInfo()]);
  const mem = Deno.systemMemoryInfo();
  const [load1, load5, load15] = Deno.loadavg();
  return {
    ts: Date.now() / 1000,
    disk,
    memory: {
      total_gb: round2(mem.total / GIB),
      free_gb: round2(mem.available / GIB),
      used_pct: mem.total > 0 ? round2(100 * (1 - mem.available / mem.total)) : 0,
    },
    cpu: {
      load1: round2(load1),
      load5: round2(load5),
      load15: round2(load15),
      cores: navigator.hardwareConcurrency,
    },
    gpus,
  };
}

/** Checks a snapshot against thresholds (pure). */
export function evaluateGuard(snapshot: ResourceSnapshot, thresholds: GuardThresholds): GuardEvaluation {
  const disk_ok = snapshot.disk.free_gb >= thresholds.min_free_gb;
  const ram_ok = snapshot.memory.free_gb >= thresholds.min_ram_gb;
  const gpu_ok = thresholds.min_vram_mb <= 0 || snapshot.gpus.length === 0 ||
    snapshot.gpus.some((g) => g.mem_free_mb >= thresholds.min_vram_mb);
  return {
    ok: disk_ok && ram_ok && gpu_ok,
    disk_ok,
    ram_ok,
    gpu_ok,
    thresholds: { ...thresholds },
    snapshot,
  };
}

/** Options for {@link checkGuard} and {@link guard}. */
export interface GuardOptions {
  /** Use these thresholds instead of the workspace's saved ones. */
  thresholds?: GuardThresholds;
  /** Use this KV handle instead of opening the workspace's. */
  kv?: Deno.Kv;
  /** What is about to run, for the error message (e.g. "rl train"). */
  operation?: string;
}

/** Measures resources for the workspace and evaluates its thresholds, without changing anything. */
export async function checkGuard(workspace: string, options: GuardOptions = {}): Promise<GuardEvaluation> {
  const thresholds = options.thresholds ??
    await readGuardThresholds(options.kv ?? await openWorkspaceKv(workspace));
  return evaluateGuard(await resourceSnapshot(workspace), thresholds);
}

/**
 * Call before a heavy operation starts. Returns the evaluation when resources suffice; throws
 * {@link InsufficientResourcesError} naming what is short (and how to change the thresholds) otherwise.
 *
 * @example
 * ```ts
 * await guard(ctx.workspace, { operation: "rl train" });
 * ```
 */
export async function guard(workspace: string, options: GuardOptions = {}): Promise<GuardEvaluation> {
  const result = await checkGuard(workspace, options);
  if (result.ok) return result;
  const t = result.thresholds;
  const s = result.snapshot;
  const short: string[] = [];
  if (!result.disk_ok) short.push(`disk ${s.disk.free_gb} GB free < min_free_gb ${t.min_free_gb}`);
  if (!result.ram_ok) short.push(`RAM ${s.memory.free_gb} GB free < min_ram_gb ${t.min_ram_gb}`);
  if (!result.gpu_ok) {
    const best = Math.max(...s.gpus.map((g) => g.mem_free_mb));
    short.push(`GPU ${best} MB free < min_vram_mb ${t.min_vram_mb}`);
  }
  const what = options.operation ? `${options.operation} refused` : "refused";
  throw new InsufficientResourcesError(
    `insufficient resources, ${what}: ${short.join("; ")}. Free some space or lower the thresholds ` +
      `(dashboard Guard Settings or POST /api/system/guard).`,
    result,
  );
}

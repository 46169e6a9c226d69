/**
 * The resource guard in `core/guard.ts`: threshold parsing (0 is valid), evaluation rules (any GPU with
 * enough free memory passes; no GPU passes), persistence in KV, and the refusal error heavy operations get.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  checkGuard,
  DEFAULT_GUARD_THRESHOLDS,
  evaluateGuard,
  guard,
  InsufficientResourcesError,
  parseGuardThresholds,
  readGuardThresholds,
  type ResourceSnapshot,
  resourceSnapshot,
  saveGuardThresholds,
} from "../../core/guard.ts";
import { UserError } from "../../core/errors.ts";
import { closeAllKv, openWorkspaceKv } from "../../core/kv.ts";

function snapshot(diskFree: number, memFree: number, gpusFree: number[]): ResourceSnapshot {
  return {
    ts: 0,
    disk: { path: "/x", total_gb: 100, free_gb: diskFree, used_pct: 0 },
    memory: { total_gb: 16, free_gb: memFree, used_pct: 0 },
    cpu: { load1: 0, load5: 0, load15: 0, cores: 2 },
    gpus: gpusFree.map((f, i) => ({
      name: `gpu${i}`,
      mem_used_mb: 8000 - f,
      mem_total_mb: 8000,
      mem_free_mb: f,
      util_pct: 0,
    })),
  };
}

Deno.test("parseGuardThresholds keeps 0, fills missing keys from the base, rejects bad values", () => {
  assert.deepEqual(parseGuardThresholds({ min_free_gb: 0, min_ram_gb: 0 }), {
    min_free_gb: 0,
    min_ram_gb: 0,
    min_vram_mb: 0,
  });
  assert.deepEqual(parseGuardThresholds({}, { min_free_gb: 5, min_ram_gb: 2, min_vram_mb: 100 }), {
    min_free_gb: 5,
    min_ram_gb: 2,
    min_vram_mb: 100,
  });
  assert.equal(parseGuardThresholds({ min_vram_mb: "512" }).min_vram_mb, 512);
  for (
    const bad of [
      { min_free_gb: -0.1 },
      { min_ram_gb: "x" },
      { min_vram_mb: Infinity },
      { min_free_gb: "" },
      null,
      [],
    ]
  ) {
    assert.throws(() => parseGuardThresholds(bad), UserError, JSON.stringify(bad));
  }
});

Deno.test("evaluateGuard: disk and RAM compare free to minimum; any GPU with room passes; no GPU passes", () => {
  const t = { min_free_gb: 10, min_ram_gb: 4, min_vram_mb: 2000 };
  assert.equal(evaluateGuard(snapshot(10, 4, [1000, 2000]), t).ok, true);
  assert.deepEqual(
    (({ disk_ok, ram_ok, gpu_ok }) => ({ disk_ok, ram_ok, gpu_ok }))(
      evaluateGuard(snapshot(9.9, 3, [1999]), t),
    ),
    { disk_ok: false, ram_ok: false, gpu_ok: false },
  );
  assert.equal(evaluateGuard(snapshot(50, 8, []), t).gpu_ok, true);
  assert.equal(
    evaluateGuard(snapshot(0, 0, [0]), { min_free_gb: 0, min_ram_gb: 0, min_vram_mb: 0 }).ok,
    true,
  );
});

Deno.test("thresholds persist in the workspace KV; guard() refuses with a 507 error naming what is short", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_guard_" });
  try {
    const kv = await openWorkspaceKv(ws);
    assert.deepEqual(await readGuardThresholds(kv), DEFAULT_GUARD_THRESHOLDS);
    await saveGuardThresholds(kv, { min_free_gb: 0, min_ram_gb: 0, min_vram_mb: 0 });
    assert.equal((await guard(ws, { operation: "embeddings build" })).ok, true);
    const real = await resourceSnapshot(ws);
    assert.ok(real.disk.total_gb > 0 && real.memory.total_gb > 0);
    await saveGuardThresholds(kv, { min_free_gb: 0, min_ram_gb: real.memory.total_gb * 10, min_vram_mb: 0 });
    assert.equal((await checkGuard(ws)).ram_ok, false);
    const err = await guard(ws, { operation: "embeddings build" }).catch((e) => e);
    assert.ok(err instanceof InsufficientResourcesError);
    assert.equal(err.status, 507);
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /embeddings build refused: RAM .* < min_ram_gb/);
    assert.match(err.message, /POST \/api\/system\/guard/);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

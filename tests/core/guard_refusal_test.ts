import assert from "node:assert/strict";
import { saveGuardThresholds } from "../../core/guard.ts";
import { runDspy, tempWorkspace } from "../support/cli.ts";
import { workspacePaths } from "../../core/workspace.ts";

Deno.test("heavy commands refuse to start when the guard fails, and say how to fix it", async () => {
  const ws = await tempWorkspace();
  await Deno.writeTextFile(`${ws}/a.ts`, "export function alpha() { return 1; }\n");
  await Deno.mkdir(workspacePaths(ws).stateDir, { recursive: true });
  const kv = await Deno.openKv(workspacePaths(ws).kvFile);
  // No machine has an exabyte free: every heavy command must refuse.
  await saveGuardThresholds(kv, { min_free_gb: 1e9, min_ram_gb: 0, min_vram_mb: 0 });
  kv.close();
  for (
    const args of [["rl", "ppo", "--env", "bandit", "--steps", "64"], ["emb-index", "--backend", "hash"]]
  ) {
    const r = await runDspy(["--workspace", ws, ...args]);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /insufficient resources, .* refused: disk .* < min_free_gb/);
    assert.match(r.stderr, /lower the thresholds/);
  }
  // With zero thresholds (a valid setting) the same command runs.
  const kv2 = await Deno.openKv(workspacePaths(ws).kvFile);
  await saveGuardThresholds(kv2, { min_free_gb: 0, min_ram_gb: 0, min_vram_mb: 0 });
  kv2.close();
  const ok = await runDspy(["--workspace", ws, "emb-index", "--backend", "hash"]);
  assert.equal(ok.code, 0, ok.stderr);
  await Deno.remove(ws, { recursive: true });
});

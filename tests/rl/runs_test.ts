/**
 * The RL run bookkeeping in-process: run ids and folders, `readRlStatus`, the recorded PPO and tool-bandit
 * runs (folders, `summary.json`, `metrics.jsonl`, no folder left by a run that never trained), and how the
 * workspace's RL config and the per-run flags combine into the tool env's options. Real files in temp dirs,
 * PPO in a real Worker.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  DEFAULT_REWARD,
  loadRlConfig,
  newRunId,
  readRlStatus,
  runDirOf,
  toolEnvOptionsFrom,
  trainPpoRun,
  trainToolBanditRun,
  writeRunSummary,
} from "../../rl/mod.ts";

async function tempDir(): Promise<string> {
  return await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-rl-runs-" }));
}

async function listRuns(rlDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(join(rlDir, "runs"))) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

Deno.test("run ids sort by start time; readRlStatus lists summaries newest first, unfinished runs, bandit and sweep", async () => {
  const rlDir = join(await tempDir(), ".dspy", "rl");
  try {
    assert.match(newRunId("ppo"), /^ppo-\d{8}T\d{6}-[0-9a-f]{6}$/);
    const empty = await readRlStatus(rlDir);
    assert.deepEqual(
      { runs: empty.runs, bandit: empty.bandit, best: empty.best_config, trials: empty.sweep_trials },
      { runs: [], bandit: null, best: null, trials: 0 },
    );
    assert.ok(empty.actions.includes("run_tests"));

    for (
      const id of ["ppo-20260101T000000-aaaaaa", "train-20260301T000000-bbbbbb", "ppo-20260201T000000-cccccc"]
    ) {
      await Deno.mkdir(runDirOf(rlDir, id), { recursive: true });
      if (!id.endsWith("cccccc")) {
        await writeRunSummary(runDirOf(rlDir, id), { run_id: id, kind: id.split("-")[0] });
      }
    }
    await Deno.writeTextFile(join(rlDir, "sweep_state.json"), JSON.stringify({ history: [{}, {}, {}] }));
    await Deno.writeTextFile(join(rlDir, "best.json"), JSON.stringify({ config: { epsilon: 0.2 } }));
    const st = await readRlStatus(rlDir, { limit: 2 });
    assert.deepEqual(st.runs.map((r) => r.run_id), [
      "train-20260301T000000-bbbbbb",
      "ppo-20260201T000000-cccccc",
    ]);
    assert.equal(st.runs[1].status, "running or interrupted");
    assert.deepEqual(st.best_config, { epsilon: 0.2 });
    assert.equal(st.sweep_trials, 3);
    assert.equal((await readRlStatus(rlDir)).runs.length, 3);

    await Deno.writeTextFile(join(rlDir, "best.json"), "{not json");
    await assert.rejects(
      loadRlConfig(join(rlDir, "..", ".."), { useBest: true }),
      (e) => e instanceof UserError && /best\.json/.test(e.message),
    );
  } finally {
    await Deno.remove(join(rlDir, "..", ".."), { recursive: true });
  }
});

Deno.test("trainPpoRun records a run folder with summary and metrics; a run that never trains leaves nothing", async () => {
  const ws = await tempDir();
  const rlDir = join(ws, ".dspy", "rl");
  try {
    const logs: number[] = [];
    const run = await trainPpoRun(
      { env: "bandit", envOptions: { means: [0.1, 0.9] }, steps: 512, nEnvs: 4, seed: 2 },
      { rlDir, kind: "ppo", onLog: (e) => logs.push(e.step) },
    );
    assert.equal(run.nothingTrained, false);
    assert.ok(logs.length > 0);
    const runDir = run.summary.run_dir;
    assert.equal(runDir, runDirOf(rlDir, run.summary.run_id));
    assert.match(run.summary.run_id, /^ppo-/);
    const saved = JSON.parse(await Deno.readTextFile(join(runDir, "summary.json")));
    assert.deepEqual(
      { id: saved.run_id, steps: saved.env_steps, seed: saved.seed, env: saved.env },
      { id: run.summary.run_id, steps: 512, seed: 2, env: "bandit" },
    );
    assert.equal(run.options.metricsFile, join(runDir, "metrics.jsonl"));
    const lines = (await Deno.readTextFile(run.options.metricsFile)).trim().split("\n");
    assert.equal(lines.length, run.summary.updates);
    assert.ok(
      run.summary.checkpoint?.startsWith(join(runDir, "checkpoints")),
      String(run.summary.checkpoint),
    );

    // Resuming a checkpoint that already has the steps trains nothing, and says so.
    const again = await trainPpoRun(
      {
        env: "bandit",
        envOptions: { means: [0.1, 0.9] },
        steps: 512,
        nEnvs: 4,
        resume: run.summary.checkpoint!,
      },
      { rlDir, kind: "neural" },
    );
    assert.equal(again.nothingTrained, true);
    assert.match(again.summary.run_id, /^neural-/);
    // ...and leaves no run folder; the checkpoint to use is still the resumed one (issue #17).
    assert.deepEqual(await listRuns(rlDir), [run.summary.run_id]);
    assert.equal(again.summary.checkpoint, run.summary.checkpoint);

    const before = await listRuns(rlDir);
    await assert.rejects(
      trainPpoRun({ env: "bandit", steps: 64, resume: join(ws, "missing.json") }, { rlDir, kind: "ppo" }),
    );
    assert.deepEqual(await listRuns(rlDir), before, "a run that never trained leaves no folder");
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("trainToolBanditRun writes one metrics line per step, the summary and the bandit state", async () => {
  const ws = await tempDir();
  const rlDir = join(ws, ".dspy", "rl");
  try {
    const env = toolEnvOptionsFrom(ws, {}, { actions: ["shell_pwd", "shell_ls"] });
    const steps: string[] = [];
    const run = await trainToolBanditRun({
      rlDir,
      env,
      steps: 4,
      policy: "ucb1",
      seed: 1,
      onStep: (s) => steps.push(s.action),
    });
    const { summary } = run;
    assert.equal(summary.steps, 4);
    assert.equal(steps.length, 4);
    assert.deepEqual(summary.ranking.map((r) => r.tool).sort(), ["shell_ls", "shell_pwd"]);
    assert.equal(summary.state_file, join(rlDir, "toolchain_bandit.json"));
    const state = JSON.parse(await Deno.readTextFile(summary.state_file));
    assert.equal(state.counts.reduce((a: number, b: number) => a + b, 0), 4);
    const lines = (await Deno.readTextFile(summary.metrics_file)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(lines.map((l) => l.tool), steps);
    const saved = JSON.parse(await Deno.readTextFile(join(runDirOf(rlDir, summary.run_id), "summary.json")));
    assert.deepEqual(saved, summary);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("tool env options: flags override the RL config, which overrides the defaults; best.json wins over .dspy_rl.json only with useBest", async () => {
  const ws = await tempDir();
  try {
    await Deno.writeTextFile(
      join(ws, ".dspy_rl.json"),
      JSON.stringify({ test_cmd: "sh t.sh", timeout_sec: 30, weights: { pass_rate: 2, blast_radius: 0.5 } }),
    );
    await Deno.mkdir(join(ws, ".dspy", "rl"), { recursive: true });
    await Deno.writeTextFile(
      join(ws, ".dspy", "rl", "best.json"),
      JSON.stringify({ config: { weights: { pass_rate: 3 } } }),
    );
    // A sweep's winner never applies by itself (issue #17): only `--use-best` merges it.
    assert.deepEqual((await loadRlConfig(ws)).weights, { pass_rate: 2, blast_radius: 0.5 });
    const cfg = await loadRlConfig(ws, { useBest: true });
    assert.deepEqual(cfg.weights, { pass_rate: 3, blast_radius: 0.5 });

    const fromCfg = toolEnvOptionsFrom(ws, cfg);
    assert.deepEqual(fromCfg.testCmd, ["sh", "t.sh"]);
    assert.equal(fromCfg.timeoutSec, 30);
    assert.equal(fromCfg.shellTimeoutSec, 60);
    assert.equal(fromCfg.episodeLength, 1);
    assert.equal(fromCfg.reward!.weights!.pass_rate, 3);
    assert.equal(fromCfg.reward!.weights!.blast_radius, 0.5);
    for (const [k, v] of Object.entries(DEFAULT_REWARD.weights)) {
      if (k !== "pass_rate" && k !== "blast_radius") assert.equal(fromCfg.reward!.weights![k], v, k);
    }

    const fromFlags = toolEnvOptionsFrom(ws, cfg, {
      testCmd: "deno  test -A",
      timeoutSec: 5,
      episodeLen: 0,
      shellCmd: "echo hi",
      catPath: "README.md",
    });
    assert.deepEqual(fromFlags.testCmd, ["deno", "test", "-A"]);
    assert.equal(fromFlags.timeoutSec, 5);
    assert.equal(fromFlags.episodeLength, 1, "0 steps per episode means 1");
    assert.deepEqual(fromFlags.actionArgs?.shell_run, { command: ["echo", "hi"] });
    assert.deepEqual(fromFlags.actionArgs?.shell_cat, { path: "README.md" });
    assert.throws(() => toolEnvOptionsFrom(ws, cfg, { actions: ["nope"] }), /unknown tool action 'nope'/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

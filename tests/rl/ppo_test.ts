import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCheckpoint, trainInWorker, type TrainLogEntry, trainPufferPolicy } from "../../rl/mod.ts";

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

Deno.test("PPO learns the best arm of a bandit env", async () => {
  const r = await trainPufferPolicy({
    env: "bandit",
    envOptions: { means: [0.1, 0.5, 0.9], noise: 0.1 },
    steps: 4096,
    seed: 1,
  });
  const first = mean(r.rewards.slice(0, 256));
  const last = mean(r.rewards.slice(-256));
  assert.ok(first < 0.65, `starts near uniform (${first})`);
  assert.ok(last > 0.85, `ends on the 0.9 arm (${last})`);
  assert.equal(r.steps, 4096);
  assert.equal(r.episodes, 4096);
});

Deno.test("the replay step changes the critic and only the critic", async () => {
  const base = { env: "bandit", envOptions: { means: [0.2, 0.8] }, steps: 256, seed: 5 } as const;
  const logs: TrainLogEntry[] = [];
  const withReplay = await trainPufferPolicy({
    ...base,
    replayCapacity: 256,
    replayBatch: 64,
    onLog: (e) => logs.push(e),
  });
  const without = await trainPufferPolicy({ ...base, replayBatch: 0 });
  const net = withReplay.policy;
  let actorDiff = 0, criticDiff = 0;
  for (let i = 0; i < net.params.length; i++) {
    const d = Math.abs(net.params[i] - without.policy.params[i]);
    if (i < net.actor.end) actorDiff = Math.max(actorDiff, d);
    else criticDiff = Math.max(criticDiff, d);
  }
  assert.equal(actorDiff, 0, "the actor update is identical");
  assert.ok(criticDiff > 1e-4, `the critic moved (${criticDiff})`);
  assert.equal(logs.length, 1);
  assert.equal(typeof logs[0].replay_loss, "number");
});

Deno.test("a run resumed from a checkpoint continues exactly like an uninterrupted one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = { env: "cartpole", nEnvs: 4, rolloutLength: 16, seed: 7, lrAnneal: false } as const;
    const full = await trainPufferPolicy({ ...base, steps: 64 * 6 });
    const first = await trainPufferPolicy({
      ...base,
      steps: 64 * 3,
      checkpointDir: dir,
      checkpointInterval: 1,
    });
    assert.equal(first.checkpoint, join(dir, "latest.json"));
    const meta = JSON.parse(await Deno.readTextFile(join(dir, "latest.json")));
    assert.equal(meta.step, 192);
    assert.equal(typeof meta.avg_reward, "number");
    assert.equal(typeof meta.best_avg, "number");
    assert.equal(meta.config.seed, 7);
    for (const f of ["latest.bin", "best.json", "best.bin"]) await Deno.stat(join(dir, f));
    const resumed = await trainPufferPolicy({ ...base, steps: 64 * 6, resume: dir });
    assert.equal(resumed.steps, full.steps);
    assert.deepEqual(resumed.rewards, full.rewards);
    assert.deepEqual(resumed.policy.params, full.policy.params);
    // Optimizer state comes back too.
    const ck = await loadCheckpoint(join(dir, "latest.json"));
    assert.equal(ck.arrays.adam_m.length, full.policy.params.length);
    await assert.rejects(
      () => trainPufferPolicy({ ...base, steps: 500, hidden: [8], resume: dir }),
      /different network|same hidden sizes/,
    );
    await assert.rejects(
      () => trainPufferPolicy({ env: "bandit", steps: 500, resume: dir }),
      /observations of size 4/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("early stop ends a run whose average return stopped improving", async () => {
  const r = await trainPufferPolicy({
    env: "bandit",
    envOptions: { means: [1, 1], noise: 0 },
    nEnvs: 4,
    rolloutLength: 8,
    steps: 32 * 100,
    earlyStopPatience: 3,
    seed: 1,
  });
  assert.equal(r.stoppedEarly, true);
  assert.equal(r.stopReason, "early_stop");
  assert.equal(r.updates, 4);
  assert.equal(r.steps, 128);
  assert.equal(r.bestAvg, 1);
});

Deno.test("a seed makes a run reproducible; another seed changes it", async () => {
  const opts = { env: "cartpole", steps: 2048, seed: 11 } as const;
  const a = await trainPufferPolicy(opts);
  const b = await trainPufferPolicy(opts);
  const c = await trainPufferPolicy({ ...opts, seed: 12 });
  assert.deepEqual(a.rewards, b.rewards);
  assert.deepEqual(a.policy.params, b.policy.params);
  assert.notDeepEqual(a.rewards, c.rewards);
  const unseeded = await trainPufferPolicy({ env: "cartpole", steps: 256 });
  assert.equal(typeof unseeded.seed, "number", "the random seed is reported so the run can be repeated");
});

Deno.test("envs in workers and a learner in a worker give the same run as in-thread", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opts = { env: "cartpole", steps: 1024, nEnvs: 4, rolloutLength: 32, seed: 3 } as const;
    const local = await trainPufferPolicy(opts);
    const workers = await trainPufferPolicy({ ...opts, envWorkers: 2 });
    assert.deepEqual(workers.rewards, local.rewards);
    assert.deepEqual(workers.policy.params, local.policy.params);
    const metricsFile = join(dir, "metrics.jsonl");
    const logs: TrainLogEntry[] = [];
    const off = await trainInWorker({ ...opts, metricsFile }, { onLog: (e) => logs.push(e) });
    assert.deepEqual(off.rewards, local.rewards);
    assert.equal(logs.length, off.updates);
    const lines = (await Deno.readTextFile(metricsFile)).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, off.updates);
    for (const k of ["step", "episode_returns", "policy_loss", "value_loss", "entropy", "steps_per_s"]) {
      assert.ok(k in lines[0], k);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad settings are refused with a clear error", async () => {
  await assert.rejects(
    () => trainPufferPolicy({ env: "cartpole", nEnvs: 0 }),
    /nEnvs must be a whole number ≥ 1/,
  );
  await assert.rejects(
    () => trainPufferPolicy({ env: "cartpole", replayCapacity: 10, replayBatch: 20 }),
    /replayBatch \(20\) cannot exceed replayCapacity/,
  );
  await assert.rejects(() => trainPufferPolicy({ env: "atari" }), /unknown env 'atari'/);
  await assert.rejects(
    () => trainInWorker({ env: "cartpole", steps: 100, hidden: [0] }),
    /hidden sizes must be whole numbers/,
  );
});

Deno.test("solvedAtStep marks the first update whose 100-episode mean reaches the threshold", async () => {
  const r = await trainPufferPolicy({
    env: "bandit",
    envOptions: { means: [0.1, 0.9], noise: 0.05 },
    steps: 20_000,
    seed: 2,
    solveThreshold: 0.85,
    stopWhenSolved: true,
  });
  assert.equal(r.stopReason, "solved");
  assert.ok(r.solvedAtStep !== null && r.solvedAtStep === r.steps && r.steps < 20_000);
  assert.ok(mean(r.rewards.slice(-100)) >= 0.85);
});

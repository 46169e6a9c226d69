import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BanditEnv,
  denormalize,
  normalize,
  type ParamSpec,
  paretoFront,
  readSweepState,
  Rng,
  runSweep,
  suggest,
  type SweepState,
  trainBandit,
} from "../../rl/mod.ts";

Deno.test("bandit training persists its state and the next run continues from it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const statePath = join(dir, "bandit.json");
    for (const policy of ["epsilon-greedy", "ucb1", "thompson"]) {
      const env = new BanditEnv({ means: [0.1, 0.9], noise: 0.05, seed: 2 });
      const first = await trainBandit({ env, steps: 60, policy, seed: 1, statePath, fresh: true });
      assert.equal(first.bandit.ranking()[0].tool, "arm1", policy);
      const saved = JSON.parse(await Deno.readTextFile(statePath));
      assert.equal(saved.counts.reduce((a: number, b: number) => a + b, 0), 60);
      if (policy === "thompson") assert.equal(saved.alpha.length, 2);
      const second = await trainBandit({ env, steps: 20, policy, seed: 2, statePath });
      assert.equal(second.bandit.counts().reduce((a, b) => a + b, 0), 80, "counts carry over");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sweep parameter spaces map to [-1, 1] and back", () => {
  const specs: ParamSpec[] = [
    { distribution: "uniform", min: 0.6, max: 1.2 },
    { distribution: "int_uniform", min: 100, max: 600 },
    { distribution: "log_normal", min: 0.5, max: 6 },
    { distribution: "logit_normal", min: 0.05, max: 0.6 },
    { distribution: "uniform_pow2", min: 8, max: 256 },
  ];
  for (const s of specs) {
    assert.ok(Math.abs(denormalize(s, -1) - s.min) < 1e-9);
    assert.ok(Math.abs(denormalize(s, 1) - s.max) < 1e-9);
    const mid = denormalize(s, 0.3);
    assert.ok(mid >= s.min && mid <= s.max);
    if (
      s.distribution === "uniform" || s.distribution === "log_normal" || s.distribution === "logit_normal"
    ) {
      assert.ok(Math.abs(normalize(s, mid) - 0.3) < 1e-9);
    }
  }
  assert.equal(Math.log2(denormalize(specs[4], 0.1)) % 1, 0);
  assert.equal(denormalize(specs[1], 0.123) % 1, 0);
});

Deno.test("Pareto front keeps trials no other trial beats on both reward and cost", () => {
  const t = (metric: number, cost: number) => ({ iteration: 0, params: {}, metric, cost, info: {} });
  assert.deepEqual(paretoFront([t(1, 5), t(2, 5), t(0.5, 1), t(0.4, 2), t(2, 9)]), [1, 2]);
  const state: SweepState = {
    method: "pareto",
    metric: "reward",
    space: { x: { distribution: "uniform", min: 0, max: 1 } },
    history: [t(1, 1), t(0, 1), t(0, 1)].map((h, i) => ({ ...h, params: { x: i === 0 ? 0.9 : 0.1 } })),
    best: null,
    updated_at: "",
  };
  const rng = new Rng(1);
  // Suggestions perturb the only front member (x = 0.9).
  const xs = Array.from({ length: 50 }, () => suggest(state, rng).x);
  assert.ok(xs.reduce((a, b) => a + b, 0) / xs.length > 0.7);
});

Deno.test("runSweep persists sweep_state.json after each trial and best.json at the end, and continues", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const space = {
      epsilon: { distribution: "logit_normal", min: 0.05, max: 0.6, mean: 0.1 },
      "weights.pass_rate": { distribution: "uniform", min: 0.6, max: 1.2, mean: 0.9 },
    } as const;
    const seen: number[] = [];
    // Objective: how well an ε-greedy bandit with this ε does on a real bandit env.
    const objective = async (params: Record<string, number>, iteration: number) => {
      seen.push(iteration);
      const env = new BanditEnv({ means: [0.2, 0.8], noise: 0.1, seed: iteration });
      const r = await trainBandit({
        env,
        steps: 40,
        policy: "eps",
        epsilon: params.epsilon,
        seed: iteration,
      });
      return { metric: r.avgReward!, info: { avg_reward: r.avgReward } };
    };
    const state = await runSweep({ rlDir: dir, method: "pareto", iterations: 5, space, seed: 3, objective });
    assert.equal(state.history.length, 5);
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal(state.history[0].params.epsilon, 0.1, "the first trial uses the means");
    const saved = await readSweepState(dir);
    assert.equal(saved!.history.length, 5);
    const best = JSON.parse(await Deno.readTextFile(join(dir, "best.json")));
    assert.equal(best.summary.metric, Math.max(...state.history.map((h) => h.metric)));
    assert.equal(typeof best.config.weights.pass_rate, "number");
    assert.equal(best.history.length, 5);
    const more = await runSweep({ rlDir: dir, method: "random", iterations: 2, space, seed: 4, objective });
    assert.equal(more.history.length, 7, "a second sweep continues the saved history");
    const fresh = await runSweep({ rlDir: dir, iterations: 1, space, objective, fresh: true });
    assert.equal(fresh.history.length, 1);
    await assert.rejects(
      () =>
        runSweep({
          rlDir: dir,
          iterations: 1,
          space: { x: { distribution: "log_normal", min: 0, max: 1 } },
          objective,
        }),
      /log_normal needs min > 0/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

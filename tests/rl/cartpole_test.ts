import assert from "node:assert/strict";
import { BanditEnv, CartPole, THETA_THRESHOLD, trainPufferPolicy } from "../../rl/mod.ts";

const close = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) < eps;

Deno.test("CartPole matches the classic-control transitions", () => {
  const env = new CartPole();
  env.setState([0, 0, 0, 0]);
  // Gymnasium CartPole-v1 from the zero state, pushing right: x_dot 0.19512195, theta_dot -0.29268293.
  const r = env.step(1);
  assert.ok(
    close(r.obs[0], 0) && close(r.obs[1], 0.19512195) && close(r.obs[2], 0) && close(r.obs[3], -0.29268293),
  );
  assert.equal(r.reward, 1);
  assert.equal(r.terminated, false);
  const r2 = env.step(0);
  // Second step (Euler): x = 0.00390244, x_dot = 0.00009302 ≈ 0 after pushing back, theta = -0.00585366.
  assert.ok(close(r2.obs[0], 0.0039024390));
  assert.ok(close(r2.obs[2], -0.0058536586));
  // A tilted pole accelerates its fall: theta_acc has the sign of theta with no force imbalance.
  env.setState([0, 0, 0.1, 0]);
  const left = env.step(0);
  assert.ok(left.obs[3] > 0);
});

Deno.test("CartPole terminates past ±2.4 and ±12°, truncates at the step limit", () => {
  const env = new CartPole();
  env.setState([0, 0, THETA_THRESHOLD - 0.001, 0]);
  assert.equal(env.step(1).terminated, false);
  env.setState([0, 0, THETA_THRESHOLD + 0.001, 0]);
  assert.equal(env.step(1).terminated, true);
  env.setState([2.39, 1, 0, 0]);
  const out = env.step(1);
  assert.equal(out.terminated, true);
  assert.equal(out.truncated, false);
  assert.throws(() => env.step(0), /after the episode ended/);
  assert.equal(new CartPole().maxSteps, 500);
  const short = new CartPole({ maxSteps: 3 });
  short.reset(1);
  short.setState([0, 0, 0, 0]);
  let last;
  for (let i = 0; i < 3; i++) last = short.step(i % 2);
  assert.equal(last!.truncated, true);
  assert.equal(last!.terminated, false);
  assert.throws(() => env.step(2), RangeError);
});

Deno.test("CartPole resets are seeded, bounded and snapshot/restore exactly", () => {
  const a = new CartPole();
  const b = new CartPole();
  assert.deepEqual(a.reset(5).obs, b.reset(5).obs);
  assert.notDeepEqual(a.reset(6).obs, b.reset(5).obs);
  for (const v of a.reset(9).obs) assert.ok(Math.abs(v) <= 0.05);
  a.step(1);
  const snap = a.snapshot();
  const next = a.step(0).obs;
  a.restore(snap);
  assert.deepEqual(a.step(0).obs, next);
});

Deno.test("bandit env rewards follow the arm means", () => {
  const env = new BanditEnv({ means: [0, 1], noise: 0.1, seed: 1 });
  env.reset();
  let s0 = 0, s1 = 0;
  for (let i = 0; i < 200; i++) {
    s0 += env.step(0).reward;
    s1 += env.step(1).reward;
  }
  assert.ok(Math.abs(s0 / 200) < 0.05 && Math.abs(s1 / 200 - 1) < 0.05);
  assert.equal(env.step(0).terminated, true);
  assert.throws(() => new BanditEnv({ means: [] }), /at least one/);
});

Deno.test("default PPO solves CartPole-v1 (last-100 mean ≥ 475) within 150k steps for seeds 1-3", async () => {
  for (const seed of [1, 2, 3]) {
    const r = await trainPufferPolicy({
      env: "cartpole",
      steps: 150_000,
      seed,
      solveThreshold: 475,
      stopWhenSolved: true,
    });
    assert.ok(
      r.solvedAtStep !== null && r.solvedAtStep <= 150_000,
      `seed ${seed}: solved at ${r.solvedAtStep}`,
    );
    assert.ok(r.meanReturnLast100! >= 475, `seed ${seed}: last-100 mean ${r.meanReturnLast100}`);
  }
});

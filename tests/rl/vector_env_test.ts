import assert from "node:assert/strict";
import {
  BanditEnv,
  builtinEnvSpec,
  CartPole,
  createWorkerVectorEnv,
  InThreadVectorEnv,
} from "../../rl/mod.ts";

const crashModule = new URL("./crash_envs.ts", import.meta.url).href;

Deno.test("in-thread vector env auto-resets finished envs and reports final observations", async () => {
  const vec = new InThreadVectorEnv([new CartPole({ maxSteps: 3 }), new CartPole({ maxSteps: 5 })]);
  const obs0 = await vec.reset(1);
  assert.equal(obs0.length, 8);
  let res;
  for (let t = 0; t < 3; t++) res = await vec.step(new Int32Array([t % 2, t % 2]));
  assert.equal(res!.truncated[0], 1);
  assert.equal(res!.truncated[1], 0);
  assert.ok(res!.finalObs[0] instanceof Float64Array);
  assert.equal(res!.finalObs[1], null);
  assert.deepEqual(res!.episodes, [{ env: 0, return: 3, length: 3 }]);
  // Env 0 starts a new episode: its observation is a fresh reset state, and it keeps stepping.
  for (const v of res!.obs.subarray(0, 4)) assert.ok(Math.abs(v) <= 0.05);
  const more = await vec.step(new Int32Array([0, 0]));
  assert.equal(more.terminated[0] | more.truncated[0], 0);
  const one = new InThreadVectorEnv([new BanditEnv({ means: [0.5] })]);
  await one.reset(2);
  const r = await one.step(new Int32Array([0]));
  assert.equal(r.terminated[0], 1);
  assert.equal(r.episodes.length, 1);
  await vec.close();
  await one.close();
});

Deno.test("worker vector env gives the same transitions as the in-thread one", async () => {
  const spec = builtinEnvSpec("cartpole");
  const workers = await createWorkerVectorEnv({ spec, nEnvs: 4, workers: 2 });
  const local = new InThreadVectorEnv([0, 1, 2, 3].map(() => new CartPole()));
  try {
    assert.equal(workers.observationSize, 4);
    assert.equal(workers.actionCount, 2);
    assert.deepEqual(await workers.reset(7), await local.reset(7));
    let episodes = 0;
    for (let t = 0; t < 60; t++) {
      const a = new Int32Array([t % 2, (t >> 1) % 2, 1, 0]);
      const [w, l] = [await workers.step(a), await local.step(a)];
      assert.deepEqual(w.obs, l.obs);
      assert.deepEqual(w.rewards, l.rewards);
      assert.deepEqual(w.episodes, l.episodes);
      episodes += w.episodes.length;
    }
    assert.ok(episodes > 0, "some episodes ended and auto-reset in the workers");
    const snap = await workers.snapshot();
    const next = await workers.step(new Int32Array([1, 1, 1, 1]));
    await workers.restore(snap);
    assert.deepEqual((await workers.step(new Int32Array([1, 1, 1, 1]))).obs, next.obs);
  } finally {
    await workers.close();
    await local.close();
  }
});

Deno.test("an env that throws in a worker fails the step with a clear error", async () => {
  const vec = await createWorkerVectorEnv({
    spec: { module: crashModule, export: "makeThrowingEnv", options: { after: 2 } },
    nEnvs: 2,
    workers: 2,
  });
  try {
    await vec.reset(1);
    await vec.step(new Int32Array([0, 1]));
    await vec.step(new Int32Array([0, 1]));
    await assert.rejects(
      () => vec.step(new Int32Array([0, 1])),
      /env worker \d \(envs \d\): simulator exploded at step 3/,
    );
  } finally {
    await vec.close();
  }
});

Deno.test("a crashing env worker rejects the pending step instead of hanging, and stays failed", async () => {
  const vec = await createWorkerVectorEnv({
    spec: { module: crashModule, export: "makeCrashingEnv" },
    nEnvs: 2,
    workers: 1,
    timeoutMs: 20_000,
  });
  const started = Date.now();
  try {
    await vec.reset(1);
    await assert.rejects(
      () => vec.step(new Int32Array([0, 1])),
      /env worker 0 \(envs 0-1\) crashed: .*native crash in the simulator/,
    );
    assert.ok(Date.now() - started < 10_000);
    await assert.rejects(() => vec.step(new Int32Array([0, 1])), /crashed/);
  } finally {
    await vec.close();
  }
});

Deno.test("a hung env worker is stopped after the timeout", async () => {
  const vec = await createWorkerVectorEnv({
    spec: { module: crashModule, export: "makeHangingEnv" },
    nEnvs: 1,
    timeoutMs: 1000,
  });
  try {
    await vec.reset(1);
    await assert.rejects(() => vec.step(new Int32Array([0])), /did not answer 'step' within 1000 ms/);
  } finally {
    await vec.close();
  }
});

Deno.test("an env that cannot be built fails worker start-up with its message", async () => {
  await assert.rejects(
    () => createWorkerVectorEnv({ spec: { module: crashModule, export: "makeBrokenEnv" }, nEnvs: 2 }),
    /missing simulator licence/,
  );
  await assert.rejects(
    () => createWorkerVectorEnv({ spec: { module: crashModule, export: "nope" }, nEnvs: 1 }),
    /has no exported function 'nope'/,
  );
});

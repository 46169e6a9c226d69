import assert from "node:assert/strict";
import {
  act,
  adamStep,
  clipGradNorm,
  createActorCritic,
  createAdam,
  gradNorm,
  mlpBackend,
  mlpBackward,
  mlpBuffers,
  mlpForward,
  policyScratch,
  ppoLossAndGrad,
  type PpoLossOptions,
  type PpoMinibatch,
  Rng,
  setMlpBackend,
  valueLossAndGrad,
} from "../../rl/mod.ts";

function setup(seed: number) {
  const rng = new Rng(seed);
  const net = createActorCritic({ obsSize: 3, actionCount: 3, hidden: [5, 4] }, rng);
  // Perturb every weight (biases start at zero and the policy head is tiny) so all paths carry gradient.
  for (let i = 0; i < net.params.length; i++) net.params[i] += 0.3 * rng.normal();
  const n = 7;
  const mb: PpoMinibatch = {
    size: n,
    obs: new Float64Array(n * 3).map(() => rng.normal()),
    actions: new Int32Array(n),
    logpOld: new Float64Array(n),
    advantages: new Float64Array(n).map(() => rng.normal()),
    returns: new Float64Array(n).map(() => 2 * rng.normal()),
    valuesOld: new Float64Array(n).map(() => rng.normal()),
  };
  const scratch = policyScratch(net, n);
  const out = { actions: new Int32Array(n), logp: new Float64Array(n), values: new Float64Array(n) };
  act(net, mb.obs, n, rng, scratch, out);
  mb.actions.set(out.actions);
  // Old log-probabilities away from the current ones so some samples are clipped and some are not.
  for (let i = 0; i < n; i++) mb.logpOld[i] = out.logp[i] + (i % 2 === 0 ? 0.5 : -0.05) * (1 + rng.float());
  return { net, mb, scratch };
}

function checkGradient(seed: number, opts: PpoLossOptions) {
  const { net, mb, scratch } = setup(seed);
  const grads = new Float64Array(net.params.length);
  const stats = ppoLossAndGrad(net, mb, opts, grads, scratch);
  assert.ok(stats.clipFrac > 0 && stats.clipFrac < 1, `mixed clipping (clipFrac ${stats.clipFrac})`);
  const scratchGrads = new Float64Array(net.params.length);
  const h = 1e-6;
  let worst = 0;
  for (let i = 0; i < net.params.length; i++) {
    const orig = net.params[i];
    net.params[i] = orig + h;
    const up = ppoLossAndGrad(net, mb, opts, scratchGrads, scratch).loss;
    net.params[i] = orig - h;
    const down = ppoLossAndGrad(net, mb, opts, scratchGrads, scratch).loss;
    net.params[i] = orig;
    const numeric = (up - down) / (2 * h);
    const err = Math.abs(numeric - grads[i]) / Math.max(1e-4, Math.abs(numeric) + Math.abs(grads[i]));
    worst = Math.max(worst, err);
  }
  assert.ok(worst < 1e-5, `worst relative gradient error ${worst}`);
}

for (const backend of ["wasm", "js"] as const) {
  Deno.test(`PPO loss gradient matches finite differences (actor and critic, ${backend} layers)`, () => {
    const previous = setMlpBackend(backend);
    try {
      checkGradient(1, { clip: 0.2, vfCoef: 0.5, entCoef: 0.01, normAdv: true, clipValue: false });
      checkGradient(2, { clip: 0.1, vfCoef: 1.0, entCoef: 0.2, normAdv: false, clipValue: false });
      checkGradient(3, { clip: 0.2, vfCoef: 0.5, entCoef: 0.05, normAdv: true, clipValue: true });
    } finally {
      setMlpBackend(previous);
    }
  });
}

Deno.test("the WebAssembly and JavaScript dense layers agree (odd and even widths, odd batches)", () => {
  const rng = new Rng(9);
  for (
    const [obs, hidden, batch] of [[4, [64, 64], 32], [15, [7, 5], 9], [1, [3], 1], [6, [13, 10], 5]] as const
  ) {
    const net = createActorCritic({ obsSize: obs, actionCount: 3, hidden: [...hidden] }, rng);
    for (let i = 0; i < net.params.length; i++) net.params[i] += 0.2 * rng.normal();
    const x = new Float64Array(batch * obs).map(() => rng.normal());
    const dy = new Float64Array(batch * 3).map(() => rng.normal());
    const run = (backend: "js" | "wasm") => {
      const previous = setMlpBackend(backend);
      try {
        const buf = mlpBuffers(net.actor, batch);
        const out = Float64Array.from(mlpForward(net.params, net.actor, x, batch, buf));
        const g = new Float64Array(net.params.length);
        mlpBackward(net.params, g, net.actor, dy, batch, buf);
        return { out, g };
      } finally {
        setMlpBackend(previous);
      }
    };
    const a = run("js"), b = run("wasm");
    for (let i = 0; i < a.out.length; i++) assert.ok(Math.abs(a.out[i] - b.out[i]) < 1e-12);
    for (let i = 0; i < a.g.length; i++) {
      assert.ok(Math.abs(a.g[i] - b.g[i]) < 1e-10 * Math.max(1, Math.abs(a.g[i])));
    }
  }
  assert.equal(mlpBackend(), "wasm", "WebAssembly SIMD is the default here");
});

Deno.test("value-regression gradient matches finite differences and touches only the critic", () => {
  const { net, mb, scratch } = setup(4);
  const grads = new Float64Array(net.params.length);
  valueLossAndGrad(net, mb.obs, mb.returns, mb.size, grads, scratch);
  for (let i = net.actor.start; i < net.actor.end; i++) assert.equal(grads[i], 0);
  const tmp = new Float64Array(net.params.length);
  for (let i = net.critic.start; i < net.critic.end; i += 3) {
    const orig = net.params[i];
    net.params[i] = orig + 1e-6;
    const up = valueLossAndGrad(net, mb.obs, mb.returns, mb.size, tmp, scratch);
    net.params[i] = orig - 1e-6;
    const down = valueLossAndGrad(net, mb.obs, mb.returns, mb.size, tmp, scratch);
    net.params[i] = orig;
    const numeric = (up - down) / 2e-6;
    assert.ok(Math.abs(numeric - grads[i]) < 1e-6 * Math.max(1, Math.abs(numeric)), `param ${i}`);
  }
});

Deno.test("global-norm clipping and Adam", () => {
  const g = new Float64Array([3, 4]);
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(gradNorm(g) - 1) < 1e-5);
  const untouched = new Float64Array([0.3, 0.4]);
  clipGradNorm(untouched, 1);
  assert.deepEqual([...untouched], [0.3, 0.4]);
  // Adam's first step moves each parameter by lr against the sign of its gradient.
  const p = new Float64Array([1, 1]);
  const adam = createAdam(2, { lr: 0.1 });
  adamStep(adam, p, new Float64Array([2, -0.5]));
  assert.ok(Math.abs(p[0] - 0.9) < 1e-4 && Math.abs(p[1] - 1.1) < 1e-4);
});

import assert from "node:assert/strict";
import { createActorCritic, mlpBackward, mlpBuffers, mlpForward, Rng, setMlpBackend } from "../../rl/mod.ts";
import { denseKernels } from "../../rl/wasm_dense.ts";

Deno.test("the SIMD tanh kernel is within 4 ulp of Math.tanh, keeps signs and saturates", () => {
  const k = denseKernels();
  assert.ok(k, "WebAssembly SIMD is available here");
  const rng = new Rng(7);
  const xs: number[] = [
    0,
    1e-300,
    -1e-300,
    1e-9,
    0.3,
    -0.3,
    0.34657,
    0.35,
    1,
    -1,
    5,
    18.9,
    19.1,
    20,
    40,
    700,
  ];
  for (let i = 0; i < 20_000; i++) xs.push(rng.normal() * (i % 4 === 0 ? 0.05 : i % 4 === 1 ? 1 : 6));
  xs.push(Infinity, -Infinity);
  const n = xs.length; // odd or even: the kernel must handle the tail pair
  // Work in freshly grown pages past every region the allocator has handed out.
  const bytes = k.memory.buffer.byteLength;
  k.memory.grow(Math.ceil(((n + 2) * 8) / 65536));
  const off = bytes / 8;
  const mem = new Float64Array(k.memory.buffer);
  mem.set(xs, off);
  k.tanh(off * 8, n);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const want = Math.tanh(xs[i]);
    const got = mem[off + i];
    if (want === 0) assert.equal(got, 0, `tanh(${xs[i]})`);
    else worst = Math.max(worst, Math.abs(got - want) / Math.abs(want));
    assert.equal(Math.sign(got), Math.sign(want), `sign of tanh(${xs[i]})`);
  }
  assert.ok(worst <= 4 * Number.EPSILON, `worst relative error ${worst / Number.EPSILON} ulp`);
});

Deno.test("a backward pass must follow a forward pass with the same buffers, rows and backend", () => {
  const rng = new Rng(3);
  const net = createActorCritic({ obsSize: 4, actionCount: 2, hidden: [8, 8] }, rng);
  const x = new Float64Array(5 * 4).map(() => rng.normal());
  const grads = new Float64Array(net.params.length);
  const buf = mlpBuffers(net.actor, 5);
  assert.throws(
    () => mlpBackward(net.params, grads, net.actor, new Float64Array(10), 5, buf),
    /must follow mlpForward/,
  );
  mlpForward(net.params, net.actor, x, 5, buf);
  assert.throws(
    () => mlpBackward(net.params, grads, net.actor, new Float64Array(6), 3, buf),
    /same rows/,
  );
  const previous = setMlpBackend("js");
  try {
    assert.throws(
      () => mlpBackward(net.params, grads, net.actor, new Float64Array(10), 5, buf),
      /must follow mlpForward on it/,
    );
  } finally {
    setMlpBackend(previous);
  }
  mlpBackward(net.params, grads, net.actor, new Float64Array(10).fill(1), 5, buf);
  assert.ok(grads.some((g) => g !== 0));
});

Deno.test("buffers made for one MLP are refused for an MLP of other widths", () => {
  const rng = new Rng(4);
  const net = createActorCritic({ obsSize: 4, actionCount: 2, hidden: [8, 8] }, rng);
  const other = createActorCritic({ obsSize: 4, actionCount: 2, hidden: [16, 8] }, rng);
  const buf = mlpBuffers(net.actor, 3);
  const x = new Float64Array(12);
  mlpForward(net.params, net.actor, x, 3, buf);
  assert.throws(() => mlpForward(other.params, other.actor, x, 3, buf), /made for an MLP of widths 4-8-8-2/);
});

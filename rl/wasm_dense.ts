/**
 * The MLP forward and backward passes on WebAssembly SIMD kernels (`dense.wat`: f64x2 multiply-adds, four
 * rows at a time in the forward pass). Each call copies the MLP's parameters, activations and output
 * gradient into the module's memory, runs every layer there, and copies the results back, so callers keep
 * plain Float64Arrays. tanh itself runs in JavaScript (WebAssembly has no transcendental functions).
 *
 * @module
 */

import { decodeBase64 } from "./base64.ts";
import { DENSE_WASM_BASE64 } from "./dense_wasm.ts";
import type { MlpBuffers, MlpLayout } from "./mlp.ts";

interface DenseExports {
  memory: WebAssembly.Memory;
  fwd(W: number, b: number, x: number, y: number, rows: number, inSize: number, outSize: number): void;
  bwdw(dy: number, x: number, dW: number, db: number, rows: number, inSize: number, outSize: number): void;
  bwdx(dy: number, W: number, h: number, dx: number, rows: number, inSize: number, outSize: number): void;
}

let kernels: DenseExports | null | undefined;
let view: Float64Array = new Float64Array(0);

/** The kernels, or null where WebAssembly SIMD is unavailable. */
export function denseKernels(): DenseExports | null {
  if (kernels !== undefined) return kernels;
  try {
    const module = new WebAssembly.Module(decodeBase64(DENSE_WASM_BASE64) as Uint8Array<ArrayBuffer>);
    kernels = new WebAssembly.Instance(module, {}).exports as unknown as DenseExports;
  } catch {
    kernels = null;
  }
  return kernels;
}

/** A Float64Array over the module memory with room for `doubles` values. */
function memory(k: DenseExports, doubles: number): Float64Array {
  const bytes = doubles * 8;
  if (k.memory.buffer.byteLength < bytes) {
    k.memory.grow(Math.ceil((bytes - k.memory.buffer.byteLength) / 65536));
  }
  if (view.buffer !== k.memory.buffer) view = new Float64Array(k.memory.buffer);
  return view;
}

/** Region layout (in doubles) of one call: params, then per-layer activations, then deltas/grads. */
function plan(layout: MlpLayout, batch: number) {
  const paramCount = layout.end - layout.start;
  let off = 0;
  const params = off;
  off += paramCount;
  off += off & 1; // keep 16-byte alignment for v128 loads
  const acts: number[] = [];
  for (const n of layout.sizes) {
    acts.push(off);
    off += n * batch;
    off += off & 1;
  }
  const deltas: number[] = [];
  for (const n of layout.sizes) {
    deltas.push(off);
    off += n * batch;
    off += off & 1;
  }
  const grads = off;
  off += paramCount;
  return { params, acts, deltas, grads, total: off + 2, paramCount };
}

/** {@link mlpForward} on the SIMD kernels. */
export function wasmMlpForward(
  k: DenseExports,
  params: Float64Array,
  layout: MlpLayout,
  input: Float64Array,
  batch: number,
  buf: MlpBuffers,
): Float64Array {
  const p = plan(layout, batch);
  const mem = memory(k, p.total);
  mem.set(params.subarray(layout.start, layout.end), p.params);
  mem.set(input.subarray(0, batch * layout.sizes[0]), p.acts[0]);
  buf.acts[0].set(input.subarray(0, batch * layout.sizes[0]));
  const nL = layout.layers.length;
  for (let l = 0; l < nL; l++) {
    const { inSize, outSize, w, b } = layout.layers[l];
    k.fwd(
      (p.params + w - layout.start) * 8,
      (p.params + b - layout.start) * 8,
      p.acts[l] * 8,
      p.acts[l + 1] * 8,
      batch,
      inSize,
      outSize,
    );
    const n = batch * outSize;
    const y = p.acts[l + 1];
    if (l < nL - 1) { for (let i = y; i < y + n; i++) mem[i] = Math.tanh(mem[i]); }
    buf.acts[l + 1].set(mem.subarray(y, y + n));
  }
  return buf.acts[nL];
}

/** {@link mlpBackward} on the SIMD kernels (gradients are added into `grads`). */
export function wasmMlpBackward(
  k: DenseExports,
  params: Float64Array,
  grads: Float64Array,
  layout: MlpLayout,
  dOut: Float64Array,
  batch: number,
  buf: MlpBuffers,
): void {
  const p = plan(layout, batch);
  const mem = memory(k, p.total);
  const nL = layout.layers.length;
  mem.set(params.subarray(layout.start, layout.end), p.params);
  for (let l = 0; l < nL; l++) mem.set(buf.acts[l].subarray(0, batch * layout.sizes[l]), p.acts[l]);
  mem.set(dOut.subarray(0, batch * layout.sizes[nL]), p.deltas[nL]);
  mem.fill(0, p.grads, p.grads + p.paramCount);
  for (let l = nL - 1; l >= 0; l--) {
    const { inSize, outSize, w, b } = layout.layers[l];
    k.bwdw(
      p.deltas[l + 1] * 8,
      p.acts[l] * 8,
      (p.grads + w - layout.start) * 8,
      (p.grads + b - layout.start) * 8,
      batch,
      inSize,
      outSize,
    );
    if (l > 0) {
      k.bwdx(
        p.deltas[l + 1] * 8,
        (p.params + w - layout.start) * 8,
        p.acts[l] * 8,
        p.deltas[l] * 8,
        batch,
        inSize,
        outSize,
      );
    }
  }
  for (let i = 0; i < p.paramCount; i++) grads[layout.start + i] += mem[p.grads + i];
}

/**
 * The MLP forward and backward passes on WebAssembly SIMD kernels (`dense.wat`: f64x2 multiply-adds, four
 * rows at a time in the forward pass, and a vectorised tanh within 3 ulp of `Math.tanh`). Each
 * {@link MlpBuffers} owns a region of the module's memory; a forward pass copies the parameters and the
 * input there and copies out only the output layer, and the backward pass reuses the activations left in
 * the region, adding the gradient into the caller's array. Callers keep plain Float64Arrays.
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
  tanh(v: number, n: number): void;
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

/** A Float64Array over the module memory, re-made after the memory grew. */
function memView(k: DenseExports): Float64Array {
  if (view.buffer !== k.memory.buffer) view = new Float64Array(k.memory.buffer);
  return view;
}

/**
 * Where one {@link MlpBuffers}' data lives in module memory (offsets in doubles): a copy of the MLP's
 * parameters, per-layer activations and deltas for `capacity` rows, and a gradient area. Activations stay
 * here between a forward pass and its backward pass, so they are never copied out and back in.
 */
interface Region {
  start: number;
  size: number;
  params: number;
  acts: number[];
  deltas: number[];
  grads: number;
  paramCount: number;
  /** Rows of the last forward pass run here (-1: none yet). */
  batch: number;
  /** The layout the region was laid out for (its widths and parameter count). */
  layout: MlpLayout;
}

/** Free blocks of module memory (offset, size in doubles), first fit; regions are 16-byte aligned. */
const free: { start: number; size: number }[] = [];
let top = 2; // double 0-1 stay unused so no region starts at address 0
const regions = new WeakMap<MlpBuffers, Region>();
const reclaim = new FinalizationRegistry<{ start: number; size: number }>((block) => free.push(block));

function allocate(k: DenseExports, size: number): number {
  for (let i = 0; i < free.length; i++) {
    if (free[i].size >= size) {
      const block = free[i];
      free.splice(i, 1);
      if (block.size > size) free.push({ start: block.start + size, size: block.size - size });
      return block.start;
    }
  }
  const start = top;
  top += size;
  const bytes = top * 8;
  if (k.memory.buffer.byteLength < bytes) {
    k.memory.grow(Math.ceil((bytes - k.memory.buffer.byteLength) / 65536));
  }
  return start;
}

function sameShape(a: MlpLayout, b: MlpLayout): boolean {
  return a.sizes.length === b.sizes.length && a.sizes.every((n, i) => n === b.sizes[i]);
}

/** The region of `buf`, laid out for its capacity on first use (freed when `buf` is collected). */
function regionOf(k: DenseExports, layout: MlpLayout, buf: MlpBuffers): Region {
  const known = regions.get(buf);
  if (known) {
    if (known.layout !== layout && !sameShape(known.layout, layout)) {
      throw new Error(
        `these MlpBuffers were made for an MLP of widths ${known.layout.sizes.join("-")}, ` +
          `not ${layout.sizes.join("-")}: make buffers per MLP with mlpBuffers(layout, capacity)`,
      );
    }
    return known;
  }
  const rows = buf.capacity;
  const paramCount = layout.end - layout.start;
  let off = 0;
  const even = () => (off += off & 1); // keep 16-byte alignment for v128 loads
  const params = off;
  off += paramCount;
  even();
  const acts: number[] = [];
  // +1 row of slack per area: the tanh kernel works on pairs and may touch one double past an odd count.
  for (const n of layout.sizes) {
    acts.push(off);
    off += n * rows + 1;
    even();
  }
  const deltas: number[] = [];
  for (const n of layout.sizes) {
    deltas.push(off);
    off += n * rows + 1;
    even();
  }
  const grads = off;
  off += paramCount;
  even();
  const start = allocate(k, off);
  const region: Region = {
    start,
    size: off,
    params: start + params,
    acts: acts.map((a) => start + a),
    deltas: deltas.map((d) => start + d),
    grads: start + grads,
    paramCount,
    batch: -1,
    layout,
  };
  regions.set(buf, region);
  reclaim.register(buf, { start, size: off });
  return region;
}

/**
 * {@link mlpForward} on the SIMD kernels. Copies the parameters and the input into `buf`'s region, runs
 * every layer (dense kernel, then the tanh kernel for hidden layers) there, and copies out only the output
 * layer; the hidden activations stay in the region for {@link wasmMlpBackward}.
 */
export function wasmMlpForward(
  k: DenseExports,
  params: Float64Array,
  layout: MlpLayout,
  input: Float64Array,
  batch: number,
  buf: MlpBuffers,
): Float64Array {
  if (batch > buf.capacity) {
    throw new RangeError(`batch ${batch} exceeds the buffers' capacity ${buf.capacity}`);
  }
  const p = regionOf(k, layout, buf);
  const mem = memView(k);
  mem.set(params.subarray(layout.start, layout.end), p.params);
  mem.set(input.subarray(0, batch * layout.sizes[0]), p.acts[0]);
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
    if (l < nL - 1) k.tanh(p.acts[l + 1] * 8, batch * outSize);
  }
  p.batch = batch;
  const y = p.acts[nL];
  const out = buf.acts[nL];
  out.set(mem.subarray(y, y + batch * layout.sizes[nL]));
  return out;
}

/**
 * {@link mlpBackward} on the SIMD kernels (gradients are added into `grads`). Uses the parameters and
 * activations the forward pass with the same `buf` left in its region, so it must follow that forward pass
 * with the same parameters and batch, as {@link mlpBackward} documents.
 */
export function wasmMlpBackward(
  k: DenseExports,
  grads: Float64Array,
  layout: MlpLayout,
  dOut: Float64Array,
  batch: number,
  buf: MlpBuffers,
): void {
  const p = regionOf(k, layout, buf);
  if (p.batch !== batch) {
    throw new Error(
      `mlpBackward on ${batch} rows must follow mlpForward on the same rows, buffers and backend ` +
        `(the last SIMD forward with these buffers had ${p.batch})`,
    );
  }
  const mem = memView(k);
  const nL = layout.layers.length;
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
  const g = p.grads - layout.start;
  for (let i = layout.start; i < layout.end; i++) grads[i] += mem[g + i];
}

/**
 * A small multilayer perceptron on flat Float64Arrays: tanh hidden layers, a linear output layer, batched
 * forward and backward passes, and orthogonal initialisation. The dense layers run on our WebAssembly SIMD
 * kernels by default (`wasm_dense.ts`) or on the plain loops below (row-major, four rows at a time); both
 * are gradient-checked. Every weight of a model lives in one flat parameter vector, so the optimizer,
 * gradient clipping and checkpoints treat the whole model as one array. Measured several times faster than
 * tfjs for 64×64 nets (see docs/rl.md).
 *
 * @module
 */

import type { Rng } from "../learning/mod.ts";
import { denseKernels, wasmMlpBackward, wasmMlpForward } from "./wasm_dense.ts";

/** Which implementation runs the dense layers. */
export type MlpBackend = "wasm" | "js";

let backend: MlpBackend = denseKernels() ? "wasm" : "js";

/**
 * Chooses the dense-layer implementation: `wasm` (SIMD kernels, the default where available) or `js`
 * (plain loops). Both compute the same function; results differ only in floating-point rounding, so a run
 * is reproducible for a given backend. Returns the previous choice.
 */
export function setMlpBackend(next: MlpBackend): MlpBackend {
  const previous = backend;
  if (next === "wasm" && !denseKernels()) throw new Error("WebAssembly SIMD is not available here");
  backend = next;
  return previous;
}

/** The current dense-layer implementation. */
export function mlpBackend(): MlpBackend {
  return backend;
}

/** Where one dense layer's weights (out×in, row-major) and biases live in the flat vector. */
export interface LayerSlot {
  inSize: number;
  outSize: number;
  /** Offset of W[0][0]. */
  w: number;
  /** Offset of b[0]. */
  b: number;
}

/** The shape of one MLP inside a flat parameter vector. */
export interface MlpLayout {
  /** Layer widths including input and output, e.g. `[4, 64, 64, 2]`. */
  sizes: number[];
  layers: LayerSlot[];
  /** First parameter index of this MLP. */
  start: number;
  /** One past its last parameter index. */
  end: number;
}

/** Lays out an MLP with the given widths starting at `start`. */
export function mlpLayout(sizes: number[], start = 0): MlpLayout {
  const layers: LayerSlot[] = [];
  let off = start;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inSize = sizes[l];
    const outSize = sizes[l + 1];
    layers.push({ inSize, outSize, w: off, b: off + inSize * outSize });
    off += inSize * outSize + outSize;
  }
  return { sizes: [...sizes], layers, start, end: off };
}

/**
 * Orthogonal initialisation of every layer (rows or columns orthonormal, scaled by the gain), zero biases.
 * `gains[l]` is the gain of layer l (e.g. √2 for hidden layers, 0.01 for a policy head).
 */
export function initMlp(params: Float64Array, layout: MlpLayout, gains: number[], rng: Rng): void {
  layout.layers.forEach((layer, l) => {
    const { inSize, outSize } = layer;
    const rows = Math.max(inSize, outSize);
    const cols = Math.min(inSize, outSize);
    // rows×cols Gaussian matrix, column-orthonormalised by modified Gram–Schmidt.
    const m = new Float64Array(rows * cols);
    for (let i = 0; i < m.length; i++) m[i] = rng.normal();
    for (let c = 0; c < cols; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += m[r * cols + c] * m[r * cols + p];
        for (let r = 0; r < rows; r++) m[r * cols + c] -= dot * m[r * cols + p];
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += m[r * cols + c] ** 2;
      norm = Math.sqrt(norm) || 1;
      for (let r = 0; r < rows; r++) m[r * cols + c] /= norm;
    }
    const gain = gains[l] ?? 1;
    for (let o = 0; o < outSize; o++) {
      for (let i = 0; i < inSize; i++) {
        // W is out×in; take m (rows×cols) or its transpose so the shapes match.
        const v = outSize >= inSize ? m[o * cols + i] : m[i * cols + o];
        params[layer.w + o * inSize + i] = gain * v;
      }
      params[layer.b + o] = 0;
    }
  });
}

/** Activation buffers for a batch: `acts[0]` is the input, `acts[l]` the output of layer l. */
export interface MlpBuffers {
  acts: Float64Array[];
  /** Gradient scratch per layer output. */
  deltas: Float64Array[];
  capacity: number;
  /**
   * The backend of the last forward pass with these buffers (null before the first). The WebAssembly
   * backend keeps hidden activations in module memory, so a backward pass must run on the same backend.
   */
  forwardBy: MlpBackend | null;
}

/** Allocates buffers for batches up to `capacity` rows. */
export function mlpBuffers(layout: MlpLayout, capacity: number): MlpBuffers {
  return {
    acts: layout.sizes.map((n) => new Float64Array(n * capacity)),
    deltas: layout.sizes.map((n) => new Float64Array(n * capacity)),
    capacity,
    forwardBy: null,
  };
}

/**
 * Forward pass over `batch` rows of `input` (row-major, batch × sizes[0]). Returns the output buffer
 * (batch × sizes[last]); hidden activations stay in `buf.acts` for the backward pass.
 */
function jsMlpForward(
  params: Float64Array,
  layout: MlpLayout,
  input: Float64Array,
  batch: number,
  buf: MlpBuffers,
): Float64Array {
  const nL = layout.layers.length;
  buf.acts[0].set(input.subarray(0, batch * layout.sizes[0]));
  for (let l = 0; l < nL; l++) {
    const { inSize, outSize, w, b } = layout.layers[l];
    const x = buf.acts[l];
    const y = buf.acts[l + 1];
    const hidden = l < nL - 1;
    let r = 0;
    // Four rows at a time: each weight is loaded once for four multiply-adds.
    for (; r + 3 < batch; r += 4) {
      const x0 = r * inSize, x1 = x0 + inSize, x2 = x1 + inSize, x3 = x2 + inSize;
      const y0 = r * outSize;
      for (let o = 0; o < outSize; o++) {
        const wo = w + o * inSize;
        const bias = params[b + o];
        let s0 = bias, s1 = bias, s2 = bias, s3 = bias;
        for (let i = 0; i < inSize; i++) {
          const wi = params[wo + i];
          s0 += wi * x[x0 + i];
          s1 += wi * x[x1 + i];
          s2 += wi * x[x2 + i];
          s3 += wi * x[x3 + i];
        }
        if (hidden) {
          y[y0 + o] = Math.tanh(s0);
          y[y0 + outSize + o] = Math.tanh(s1);
          y[y0 + 2 * outSize + o] = Math.tanh(s2);
          y[y0 + 3 * outSize + o] = Math.tanh(s3);
        } else {
          y[y0 + o] = s0;
          y[y0 + outSize + o] = s1;
          y[y0 + 2 * outSize + o] = s2;
          y[y0 + 3 * outSize + o] = s3;
        }
      }
    }
    for (; r < batch; r++) {
      const xr = r * inSize;
      const yr = r * outSize;
      for (let o = 0; o < outSize; o++) {
        const wo = w + o * inSize;
        let s = params[b + o];
        for (let i = 0; i < inSize; i++) s += params[wo + i] * x[xr + i];
        y[yr + o] = hidden ? Math.tanh(s) : s;
      }
    }
  }
  return buf.acts[nL];
}

/**
 * Backward pass after {@link mlpForward} with the same buffers. `dOut` is d(loss)/d(output)
 * (batch × sizes[last]); gradients are ADDED into `grads` (same layout as `params`).
 */
function jsMlpBackward(
  params: Float64Array,
  grads: Float64Array,
  layout: MlpLayout,
  dOut: Float64Array,
  batch: number,
  buf: MlpBuffers,
): void {
  const nL = layout.layers.length;
  buf.deltas[nL].set(dOut.subarray(0, batch * layout.sizes[nL]));
  for (let l = nL - 1; l >= 0; l--) {
    const { inSize, outSize, w, b } = layout.layers[l];
    const x = buf.acts[l];
    const dy = buf.deltas[l + 1];
    // Weight and bias gradients, four rows at a time: dW[o][i] += Σ_r dy[r][o] · x[r][i].
    let r = 0;
    for (; r + 3 < batch; r += 4) {
      const x0 = r * inSize, x1 = x0 + inSize, x2 = x1 + inSize, x3 = x2 + inSize;
      const y0 = r * outSize;
      for (let o = 0; o < outSize; o++) {
        const g0 = dy[y0 + o];
        const g1 = dy[y0 + outSize + o];
        const g2 = dy[y0 + 2 * outSize + o];
        const g3 = dy[y0 + 3 * outSize + o];
        grads[b + o] += g0 + g1 + g2 + g3;
        const wo = w + o * inSize;
        for (let i = 0; i < inSize; i++) {
          grads[wo + i] += g0 * x[x0 + i] + g1 * x[x1 + i] + g2 * x[x2 + i] + g3 * x[x3 + i];
        }
      }
    }
    for (; r < batch; r++) {
      const xr = r * inSize;
      const yr = r * outSize;
      for (let o = 0; o < outSize; o++) {
        const g = dy[yr + o];
        grads[b + o] += g;
        const wo = w + o * inSize;
        for (let i = 0; i < inSize; i++) grads[wo + i] += g * x[xr + i];
      }
    }
    if (l === 0) continue;
    // Input gradient dx[r][i] = Σ_o dy[r][o] · W[o][i], four outputs at a time, then through tanh:
    // d/ds = (1 - h²) · d/dh, with h = x (the previous layer's output).
    const dx = buf.deltas[l];
    dx.fill(0, 0, batch * inSize);
    for (let rr = 0; rr < batch; rr++) {
      const xr = rr * inSize;
      const yr = rr * outSize;
      let o = 0;
      for (; o + 3 < outSize; o += 4) {
        const g0 = dy[yr + o], g1 = dy[yr + o + 1], g2 = dy[yr + o + 2], g3 = dy[yr + o + 3];
        const w0 = w + o * inSize, w1 = w0 + inSize, w2 = w1 + inSize, w3 = w2 + inSize;
        for (let i = 0; i < inSize; i++) {
          dx[xr + i] += g0 * params[w0 + i] + g1 * params[w1 + i] + g2 * params[w2 + i] + g3 * params[w3 + i];
        }
      }
      for (; o < outSize; o++) {
        const g = dy[yr + o];
        const wo = w + o * inSize;
        for (let i = 0; i < inSize; i++) dx[xr + i] += g * params[wo + i];
      }
      for (let i = 0; i < inSize; i++) dx[xr + i] *= 1 - x[xr + i] * x[xr + i];
    }
  }
}

/**
 * Forward pass over `batch` rows of `input` (row-major, batch × sizes[0]). Returns the output buffer
 * (batch × sizes[last]); activations stay in `buf.acts` for the backward pass.
 */
export function mlpForward(
  params: Float64Array,
  layout: MlpLayout,
  input: Float64Array,
  batch: number,
  buf: MlpBuffers,
): Float64Array {
  buf.forwardBy = backend;
  if (backend === "wasm") return wasmMlpForward(denseKernels()!, params, layout, input, batch, buf);
  return jsMlpForward(params, layout, input, batch, buf);
}

/**
 * Backward pass after {@link mlpForward} with the same buffers, batch, parameters and backend (the SIMD
 * backend reuses the parameters and activations of that forward pass). `dOut` is d(loss)/d(output)
 * (batch × sizes[last]); gradients are ADDED into `grads` (same layout as `params`).
 */
export function mlpBackward(
  params: Float64Array,
  grads: Float64Array,
  layout: MlpLayout,
  dOut: Float64Array,
  batch: number,
  buf: MlpBuffers,
): void {
  if (buf.forwardBy !== backend) {
    throw new Error(
      `mlpBackward on the ${backend} backend must follow mlpForward on it with the same buffers ` +
        `(the last forward ran on ${buf.forwardBy ?? "none"})`,
    );
  }
  if (backend === "wasm") {
    wasmMlpBackward(denseKernels()!, grads, layout, dOut, batch, buf);
    return;
  }
  jsMlpBackward(params, grads, layout, dOut, batch, buf);
}

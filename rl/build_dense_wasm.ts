/**
 * Regenerates `dense_wasm.ts` from `dense.wat` with WABT's `wat2wasm` (Debian package `wabt`):
 * `deno run -A rl/build_dense_wasm.ts`. Only needed after editing the kernels; the generated file is
 * committed, so building and running dspy-code never needs WABT.
 *
 * @module
 */

import { encodeBase64 } from "./base64.ts";

const here = new URL(".", import.meta.url).pathname;
const out = await Deno.makeTempFile({ suffix: ".wasm" });
const r = await new Deno.Command("wat2wasm", { args: [`${here}dense.wat`, "-o", out] }).output();
if (!r.success) {
  console.error(new TextDecoder().decode(r.stderr));
  Deno.exit(1);
}
const bytes = await Deno.readFile(out);
await Deno.remove(out);
const text = `/**
 * The dense-layer kernels of \`dense.wat\` (WebAssembly SIMD, f64x2), compiled by \`build_dense_wasm.ts\`.
 * Generated file: edit dense.wat and rerun \`deno run -A rl/build_dense_wasm.ts\`.
 *
 * @module
 */

/** The compiled module, base64. */
export const DENSE_WASM_BASE64 =
  "${encodeBase64(bytes)}";
`;
await Deno.writeTextFile(`${here}dense_wasm.ts`, text);
console.log(`wrote ${here}dense_wasm.ts (${bytes.length} bytes of wasm)`);

/**
 * Test support for experiments: a temp workspace holding a 500-line JSONL dataset and a copy of the tiny
 * BERT model (paths of experiments must be inside the workspace), and a poll helper.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The tiny model shipped with the tests. */
export const TINY_BERT = fileURLToPath(new URL("../fixtures/tiny-bert", import.meta.url));

/** Creates a workspace with `data/d.jsonl` (500 texts) and `models/tiny-bert`. */
export async function experimentWorkspace(lines = 500): Promise<string> {
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_exp_" }));
  await Deno.mkdir(`${ws}/data`);
  const words = [
    "retry",
    "backoff",
    "kafka",
    "offset",
    "vector",
    "index",
    "patch",
    "test",
    "router",
    "bandit",
  ];
  await Deno.writeTextFile(
    `${ws}/data/d.jsonl`,
    Array.from({ length: lines }, (_, i) =>
      JSON.stringify({
        text: `line ${i}: ${words[i % 10]} ${words[(i * 7) % 10]} ${words[(i * 3) % 10]} in module ${i % 17}`,
      })).join("\n") + "\n",
  );
  await Deno.mkdir(`${ws}/models/tiny-bert/onnx`, { recursive: true });
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]) {
    await Deno.copyFile(`${TINY_BERT}/${f}`, `${ws}/models/tiny-bert/${f}`);
  }
  return ws;
}

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Speed of the Universal Sentence Encoder Lite backend (`deno task bench:use`): how long loading takes, and
 * texts per second for short sentences and for code chunks (30-line windows of this repository's own
 * `embeddings/*.ts`, which fill the model's 128 pieces) at several batch sizes. The ratios are measured in the
 * same run: each batch size against one text at a time on the same texts (what batching gains), and our
 * tokenizer's share of the time. The cases run interleaved, round by round; medians are reported.
 *
 * Usage: `deno run -A bench/use_bench.ts [--json] [--quick] [--rounds N]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  createSentencePiece,
  createUseEmbedder,
  type Embedder,
  repairScores,
  resolveUseModel,
  toWords,
} from "../embeddings/mod.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
  },
});
const rounds = values.rounds ? Number(values.rounds) : values.quick ? 1 : 3;
const log = values.json ? (_: string) => {} : (line: string) => console.error(line);
const r1 = (x: number) => Math.round(x * 10) / 10;

const sentences = [
  "How old are you?",
  "The cat sat on the mat.",
  "Retry the request with exponential backoff.",
  "Commit the consumer offsets after each batch.",
  "Which broker leads this partition?",
  "Give up on a request that takes too long.",
  "Parse the YAML configuration file.",
  "Only trust forwarded headers from known proxies.",
];
const short = Array.from({ length: values.quick ? 64 : 256 }, (_, i) => `${sentences[i % 8]} (${i})`);
const dir = fileURLToPath(new URL("../embeddings/", import.meta.url));
const code: string[] = [];
for (const name of ["emb_index.ts", "embed_server.ts", "store.ts", "worker.ts", "batcher.ts"]) {
  const lines = (await Deno.readTextFile(join(dir, name))).split("\n");
  for (let i = 0; i + 30 <= lines.length && code.length < (values.quick ? 32 : 96); i += 30) {
    code.push(`embeddings/${name}\n` + lines.slice(i, i + 30).join("\n"));
  }
}

const loadStart = performance.now();
const use = await createUseEmbedder();
const loadMs = performance.now() - loadStart;
const found = await resolveUseModel();
if (!("dir" in found)) throw new Error("model files not found");
const sp = createSentencePiece(
  repairScores(JSON.parse(await Deno.readTextFile(join(found.dir, "vocab.json")))).vocab,
);
const pieces = (texts: string[]) =>
  texts.reduce((s, t) => s + Math.min(128, sp.encode(toWords(t)).length), 0);

async function rate(e: Embedder, texts: string[], batch: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += batch) await e.embed(texts.slice(i, i + batch));
  return texts.length / ((performance.now() - t0) / 1000);
}
function tokRate(texts: string[]): number {
  const t0 = performance.now();
  for (const t of texts) sp.encode(toWords(t));
  return texts.length / ((performance.now() - t0) / 1000);
}

await use.embed(short.slice(0, 8)); // warm-up: the first run compiles kernels
const cases: { name: string; texts: string[]; batch: number }[] = [
  { name: "short sentences, batches of 32", texts: short, batch: 32 },
  { name: "short sentences, one at a time", texts: short, batch: 1 },
  { name: "code chunks (128 pieces), batches of 32", texts: code, batch: 32 },
  { name: "code chunks (128 pieces), batches of 8", texts: code, batch: 8 },
  { name: "code chunks (128 pieces), one at a time", texts: code, batch: 1 },
];
const samples = new Map<string, { use: number[]; tok: number[] }>();
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const s = samples.get(c.name) ?? { use: [], tok: [] };
    s.use.push(await rate(use, c.texts, c.batch));
    s.tok.push(tokRate(c.texts));
    samples.set(c.name, s);
  }
}
await use.dispose();

const load = Deno.loadavg();
const rows = cases.map((c) => {
  const s = samples.get(c.name)!;
  const u = median(s.use);
  const single = cases.find((o) => o.texts === c.texts && o.batch === 1)!;
  return {
    case: c.name,
    pieces_per_text: r1(pieces(c.texts) / c.texts.length),
    texts_per_s: r1(u),
    vs_one_at_a_time: Math.round((u / median(samples.get(single.name)!.use)) * 100) / 100,
    tokenizer_share: Math.round((u / median(s.tok)) * 1000) / 1000,
  };
});
const result = { load_ms: Math.round(loadMs), rounds, load_average: load.map(r1), rows };
if (values.json) console.log(JSON.stringify(result));
else {
  log(
    `loading the model (TensorFlow.js import, WebAssembly start, 26.6 MiB of weights): ${
      Math.round(loadMs)
    } ms`,
  );
  log(`load average ${load.map(r1).join(" ")}; medians of ${rounds} interleaved rounds`);
  log("| case | pieces/text | texts/s | ÷ one at a time | tokenizer share of the time |");
  log("| --- | --- | --- | --- | --- |");
  for (const r of rows) {
    log(
      `| ${r.case} | ${r.pieces_per_text} | ${r.texts_per_s} | ${r.vs_one_at_a_time}× | ` +
        `${(r.tokenizer_share * 100).toFixed(1)}% |`,
    );
  }
}

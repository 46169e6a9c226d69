import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseInputRecord } from "../../embeddings/mod.ts";

const SPARK_DIR = fileURLToPath(new URL("../../docker/spark/", import.meta.url));

function python(args: string[], stdin?: string) {
  const child = new Deno.Command("python3", {
    args,
    cwd: SPARK_DIR,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONDONTWRITEBYTECODE: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    w.write(new TextEncoder().encode(stdin)).then(() => w.close());
  }
  return child.output().then((o) => ({
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
}

Deno.test("spark job: the text extraction's plain-Python unit tests pass (no Spark needed)", async () => {
  const r = await python(["-m", "unittest", "-v", "test_extract"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Ran \d+ tests/);
  assert.match(r.stderr, /\nOK\n?$/);
});

Deno.test("spark job: its records are what the embed worker reads (same doc_id rule, topic, kafka_ts)", async () => {
  const script = [
    "import json, sys",
    "from extract import record_json",
    "for line in sys.stdin:",
    "    topic, value = line.rstrip('\\n').split('\\t', 1)",
    "    print(record_json(value, topic, 1700000000.5))",
  ].join("\n");
  const inputs = [
    ["agent.results.app", JSON.stringify({ summary: "build broke", key_points: ["a"], plan: "fix", ts: 1 })],
    ["agent.results.db", JSON.stringify({ text: "slow query", id: "q-1" })],
    ["agent.results", "plain line é"],
  ];
  const r = await python(["-c", script], inputs.map(([t, v]) => `${t}\t${v}`).join("\n") + "\n");
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(out.length, 3);
  for (const rec of out) {
    const parsed = parseInputRecord(rec);
    assert.ok(typeof parsed !== "string", String(parsed));
    assert.equal(parsed.doc_id, rec.doc_id, "python and the worker derive the same id");
    assert.equal(parsed.topic, rec.topic);
    assert.equal(parsed.kafka_ts, 1700000000.5);
  }
  assert.equal(out[0].text, "build broke\na\nfix");
  assert.equal(out[1].doc_id, "q-1");
  // Without an id both sides use sha256(text): check the worker's rule matches on a record without one.
  const noId = parseInputRecord({ text: out[2].text });
  assert.ok(typeof noId !== "string");
  assert.equal(noId.doc_id, out[2].doc_id);
});

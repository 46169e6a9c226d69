/**
 * The shipped compose files and Dockerfile, validated without an engine: Debian's `docker-compose config`
 * (1.29) accepts the stack with and without profiles and the test override; every published port is bound
 * to 127.0.0.1; every service has a health check that asks something (not `exit 0`); every `depends_on`
 * waits for `service_healthy`; environment blocks are mappings; `.env.example` documents every variable the
 * file reads; the Dockerfile's images run as a non-root user with a HEALTHCHECK on /health.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { composeConfig } from "../support/compose.ts";

const DOCKER = fileURLToPath(new URL("../../docker", import.meta.url));
const COMPOSE = join(DOCKER, "lightweight", "docker-compose.yml");
const TEST_OVERRIDE = join(DOCKER, "lightweight", "docker-compose.test.yml");
const ENV_EXAMPLE = join(DOCKER, "lightweight", ".env.example");

interface Service {
  image?: string;
  ports?: string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  environment?: Record<string, string> | string[];
  network_mode?: string;
  profiles?: string[];
  user?: string;
}

async function resolved(extra: string[] = [], files: string[] = []): Promise<Record<string, Service>> {
  const args = [...files.flatMap((f) => ["-f", f]), "--env-file", ENV_EXAMPLE, ...extra];
  const out = await composeConfig(COMPOSE, {}, args);
  assert.ok(out.ok, `docker-compose config failed:\n${out.stderr}`);
  return parse(out.stdout).services;
}

Deno.test("compose: the stack validates, binds only 127.0.0.1, health checks probe, depends_on waits", async () => {
  const all = await resolved(["--profile", "llm", "--profile", "spark"]);
  assert.deepEqual(Object.keys(all).sort(), [
    "dspy-code",
    "embed-worker",
    "infermesh",
    "kafka",
    "ollama",
    "spark-vectorizer",
  ]);
  // Without a profile the stack is these four (docker-compose 1.29's `config` lists every service).
  const always = Object.entries(all).filter(([, svc]) => !svc.profiles).map(([n]) => n).sort();
  assert.deepEqual(always, ["dspy-code", "embed-worker", "infermesh", "kafka"]);
  assert.deepEqual(all.ollama.profiles, ["llm"]);
  assert.deepEqual(all["spark-vectorizer"].profiles, ["spark"]);
  for (const [name, svc] of Object.entries(all)) {
    for (const port of svc.ports ?? []) {
      assert.match(String(port), /^127\.0\.0\.1:\d+:\d+/, `${name} publishes ${port} beyond loopback`);
    }
    const test = svc.healthcheck?.test;
    assert.ok(test && !svc.healthcheck?.disable, `${name} has no health check`);
    const cmd = Array.isArray(test) ? test.join(" ") : String(test);
    assert.doesNotMatch(cmd, /^(CMD-SHELL )?(exit 0|true)$/, `${name}'s health check probes nothing`);
    assert.match(cmd, /probe|kafka-broker-api-versions|ollama list|urlopen|kcat/, `${name}: ${cmd}`);
    if (svc.depends_on && !Array.isArray(svc.depends_on)) {
      for (const [dep, cond] of Object.entries(svc.depends_on)) {
        assert.equal(cond.condition, "service_healthy", `${name} → ${dep} does not wait for health`);
      }
    }
  }
  // The embedding server and its host port, as the seed README documents.
  assert.deepEqual(all.infermesh.ports?.map(String), ["127.0.0.1:19000:19000/tcp"]);
  assert.deepEqual(all["dspy-code"].ports?.map(String), ["127.0.0.1:8765:8765/tcp"]);
  const worker = all["embed-worker"].environment as Record<string, string>;
  assert.equal(worker.EMBED_INPUT_TOPIC, "embedding_input");
  assert.equal(worker.EMBED_OUTPUT_TOPIC, "embeddings");
  assert.equal(worker.EMBED_GROUP, "embed-worker");
  assert.equal(worker.INFERMESH_URL, "http://infermesh:19000");
  assert.equal(worker.KAFKA_BOOTSTRAP_SERVERS, "kafka:9092");

  // A host port changed in the environment moves only the host side.
  const moved = await composeConfig(COMPOSE, { INFERMESH_HOST_PORT: "29000" });
  assert.ok(moved.ok, moved.stderr);
  assert.deepEqual(parse(moved.stdout).services.infermesh.ports, ["127.0.0.1:29000:19000/tcp"]);
});

Deno.test("compose: environment blocks are mappings, and .env.example documents every variable", async () => {
  const text = await Deno.readTextFile(COMPOSE);
  const raw = parse(text);
  for (const [name, svc] of Object.entries(raw.services as Record<string, Service>)) {
    if (svc.environment) assert.ok(!Array.isArray(svc.environment), `${name}: environment is a list`);
  }
  const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}/g)].map((m) => m[1]));
  const documented = new Set(
    (await Deno.readTextFile(ENV_EXAMPLE)).split("\n").flatMap((l) => {
      const m = /^([A-Z0-9_]+)=/.exec(l);
      return m ? [m[1]] : [];
    }),
  );
  const undocumented = [...used].filter((v) => !documented.has(v) && !v.startsWith("DSPY_CODE_BUILD"))
    .filter((v) => v !== "DSPY_CODE_DOCKERFILE");
  assert.deepEqual(undocumented, [], ".env.example lacks these variables");
  for (const v of documented) {
    assert.ok(used.has(v), `.env.example sets ${v}, which the compose file never reads`);
  }
});

Deno.test("compose: the test override swaps Kafka for the kcat mock and shares its network namespace", async () => {
  const merged = await resolved([], [COMPOSE, TEST_OVERRIDE]);
  assert.equal(merged.kafka.image, "dspy-code-kafka-mock:local");
  assert.match(String(merged.kafka.healthcheck?.test), /kcat/);
  for (const name of ["dspy-code", "infermesh", "embed-worker"]) {
    assert.equal(merged[name].network_mode, "service:kafka", name);
  }
  const env = merged["embed-worker"].environment as Record<string, string>;
  assert.equal(env.KAFKA_BOOTSTRAP_SERVERS, "127.0.0.1:9092");
  assert.equal(env.INFERMESH_URL, "http://127.0.0.1:19000");
  assert.ok(merged.kafka.ports?.map(String).includes("127.0.0.1:19000:19000/tcp"));
});

Deno.test("Dockerfile: runtime and source targets run as a non-root user with a /health HEALTHCHECK", async () => {
  const text = await Deno.readTextFile(join(DOCKER, "Dockerfile"));
  const stages = text.split(/^FROM /m).slice(1).map((s) => ({
    from: s.split("\n")[0],
    body: s,
  }));
  const byName = new Map(stages.map((s) => [s.from.split(/\s+AS\s+/i)[1]?.trim(), s]));
  for (const name of ["runtime", "source"]) {
    const stage = byName.get(name);
    assert.ok(stage, `no ${name} stage`);
    assert.match(stage.from, /^debian:bookworm-slim /, `${name} must build from the local Debian base`);
    assert.match(stage.body, /^USER dspy$/m, `${name} runs as root`);
    assert.match(stage.body, /^HEALTHCHECK [\s\S]*probe[^\n]*\/health/m, `${name} has no /health check`);
  }
  assert.equal(stages.at(-1)?.from.split(/\s+AS\s+/i)[1], "runtime", "the default target is the binary");
  assert.match(byName.get("compile")!.from, /^denoland\/deno:/);
  assert.match(byName.get("compile")!.body, /scripts\/compile\.ts/);
  assert.match(byName.get("deno-npm")!.body, /sha512sum -c/);
});

/**
 * The compose stack in real containers (`deno task test:docker`, `DOCKER_TESTS=1`): builds the Debian-based
 * image (`source` target) and the kcat Kafka stand-in, brings up dspy-code, infermesh (`embed serve`),
 * embed-worker and the stand-in from docker-compose.yml + docker-compose.test.yml, waits until every health
 * check reports healthy, publishes records to `embedding_input` and sees their vectors arrive on
 * `embeddings` and in the vector store, then tears everything down.
 *
 * Podman without systemd does not run health checks on its own, so while the stack runs the test asks
 * podman to run them (`podman healthcheck run`) every 2 s when the `podman` CLI is present. Extra CA
 * certificates of this machine (`/usr/local/share/ca-certificates/*.crt`, a TLS-intercepting proxy) are
 * passed to the image build. `DSPY_TEST_IMAGE=name` reuses a built image instead of building.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";

const ENABLED = Deno.env.get("DOCKER_TESTS") === "1";
const LIGHTWEIGHT = fileURLToPath(new URL("../../docker/lightweight", import.meta.url));
const dec = new TextDecoder();

async function sh(
  argv: string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
) {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: options.env,
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  return { ok: out.success, code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function extraCaCerts(): Promise<string> {
  const dir = "/usr/local/share/ca-certificates";
  const parts: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".crt")) parts.push(await Deno.readTextFile(join(dir, e.name)));
    }
  } catch { /* none */ }
  return parts.join("\n").trim();
}

Deno.test({
  name: "docker: the stack builds, turns healthy, and embeds records from Kafka into the store",
  ignore: !ENABLED,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.ok(
      (await sh(["docker", "info"], { timeoutMs: 15_000 })).ok,
      "no container engine answers docker info",
    );
    const project = `dspytest${Date.now() % 100000}`;
    const tmp = await Deno.makeTempDir({ prefix: "dspy_docker_" });
    const ws = join(tmp, "ws");
    await Deno.mkdir(ws);
    await Deno.chmod(ws, 0o777); // the containers run as uid 10001
    const apiPort = freePort();
    const embedPort = freePort();
    const env: Record<string, string> = {
      ...Deno.env.toObject(),
      DSPY_CODE_TARGET: "source",
      DSPY_CODE_IMAGE: Deno.env.get("DSPY_TEST_IMAGE") ?? `dspy-code:${project}`,
      DSPY_WORKSPACE_DIR: ws,
      DSPY_CODE_HOST_PORT: String(apiPort),
      INFERMESH_HOST_PORT: String(embedPort),
      INFERMESH_BACKEND: "hash",
      DSPY_BUILD_CA_CERTS: Deno.env.get("DSPY_BUILD_CA_CERTS") ?? await extraCaCerts(),
    };
    const config = await sh([
      "docker-compose",
      "-f",
      join(LIGHTWEIGHT, "docker-compose.yml"),
      "-f",
      join(LIGHTWEIGHT, "docker-compose.test.yml"),
      "config",
    ], { env });
    assert.ok(config.ok, config.stderr);
    // Compose merges `ports`; a container in kafka's network namespace cannot publish any (they moved to kafka).
    const merged = parse(config.stdout);
    for (const [name, svc] of Object.entries(merged.services as Record<string, Record<string, unknown>>)) {
      if (svc.profiles) delete merged.services[name];
      else if (String(svc.network_mode ?? "").startsWith("service:")) delete svc.ports;
      if (Deno.env.get("DSPY_TEST_IMAGE") && svc.image === env.DSPY_CODE_IMAGE) delete svc.build;
    }
    const file = join(tmp, "docker-compose.yml");
    await Deno.writeTextFile(file, stringify(merged));
    const compose = (...args: string[]) => ["docker-compose", "-f", file, "-p", project, ...args];

    let poller: ReturnType<typeof setInterval> | undefined;
    const havePodman = (await sh(["podman", "--version"]).catch(() => ({ ok: false }))).ok;
    try {
      const build = await sh(compose("build"), { env, timeoutMs: 20 * 60_000 });
      assert.ok(build.ok, `build failed:\n${build.stdout.slice(-3000)}\n${build.stderr.slice(-3000)}`);
      if (havePodman) {
        let busy = false;
        poller = setInterval(async () => {
          if (busy) return;
          busy = true;
          const names = await sh([
            "podman",
            "ps",
            "--filter",
            `label=com.docker.compose.project=${project}`,
            "--format",
            "{{.Names}}",
          ]);
          await Promise.all(
            names.stdout.split("\n").filter(Boolean).map((n) => sh(["podman", "healthcheck", "run", n])),
          );
          busy = false;
        }, 2000);
      }
      const up = await sh(compose("up", "-d"), { env, timeoutMs: 10 * 60_000 });
      assert.ok(up.ok, `up failed:\n${up.stdout}\n${up.stderr}`);

      // Every service reports healthy.
      const ids = (await sh(compose("ps", "-q"), { env })).stdout.split("\n").filter(Boolean);
      assert.equal(ids.length, 4, "dspy-code, infermesh, embed-worker and kafka run");
      const deadline = Date.now() + 5 * 60_000;
      let states: string[] = [];
      while (Date.now() < deadline) {
        states = await Promise.all(
          ids.map(async (id) =>
            (await sh(["docker", "inspect", "--format", "{{.Name}} {{.State.Health.Status}}", id])).stdout
              .trim()
          ),
        );
        if (states.every((s) => s.endsWith(" healthy"))) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      assert.ok(states.every((s) => s.endsWith(" healthy")), `not healthy: ${states.join(", ")}`);

      // The dashboard's server and the embedding server answer on their loopback host ports.
      const health = await fetch(`http://127.0.0.1:${apiPort}/health`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");
      const embed = await fetch(`http://127.0.0.1:${embedPort}/embed`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: ["hello", "world"] }),
      });
      assert.equal(embed.status, 200);
      assert.equal((await embed.json()).vectors.length, 2);

      // Data flow: embedding_input → embed-worker → embeddings + the vector store.
      const kafka = (await sh(compose("ps", "-q", "kafka"), { env })).stdout.trim();
      const worker = (await sh(compose("ps", "-q", "embed-worker"), { env })).stdout.trim();
      const n = 20;
      const records = Array.from(
        { length: n },
        (_, i) => JSON.stringify({ doc_id: `doc-${i}`, text: `record ${i}` }),
      );
      const produce = await sh(
        ["docker", "exec", "-i", kafka, "kcat", "-P", "-b", "127.0.0.1:9092", "-t", "embedding_input"],
        { stdin: records.join("\n") + "\n" },
      );
      assert.ok(produce.ok, produce.stderr);
      let out: { doc_id: string; vector: number[]; model: string }[] = [];
      const flowDeadline = Date.now() + 120_000;
      while (Date.now() < flowDeadline && out.length < n) {
        const consume = await sh([
          "docker",
          "exec",
          kafka,
          "kcat",
          "-C",
          "-b",
          "127.0.0.1:9092",
          "-t",
          "embeddings",
          "-o",
          "beginning",
          "-e",
          "-q",
        ], { timeoutMs: 30_000 });
        out = consume.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
        if (out.length < n) await new Promise((r) => setTimeout(r, 2000));
      }
      const ids2 = new Set(out.map((r) => r.doc_id));
      for (let i = 0; i < n; i++) assert.ok(ids2.has(`doc-${i}`), `doc-${i} has no vector on embeddings`);
      assert.ok(out.every((r) => Array.isArray(r.vector) && r.vector.length > 0));
      const stats = await sh(["docker", "exec", worker, "dspy-code", "--json", "embed", "stats"]);
      assert.ok(stats.ok, stats.stderr);
      assert.ok(JSON.parse(stats.stdout).total >= n, stats.stdout);
    } finally {
      if (poller !== undefined) clearInterval(poller);
      const logs = await sh(compose("logs", "--tail", "30"), { env }).catch(() => undefined);
      if (logs && Deno.env.get("DSPY_DOCKER_TEST_LOGS")) console.log(logs.stdout);
      // Podman removes a container sharing another's network namespace only after it: a second pass
      // finishes what the first could not.
      for (let i = 0; i < 3; i++) {
        const down = await sh(compose("down", "-v", "--remove-orphans"), { env, timeoutMs: 180_000 });
        if (down.ok) break;
      }
      if (!Deno.env.get("DSPY_TEST_IMAGE")) await sh(["docker", "rmi", env.DSPY_CODE_IMAGE]).catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});

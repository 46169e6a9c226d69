import { join } from "node:path";
import { startBus } from "../../bus/mod.ts";
import { closeAllKv } from "../../core/kv.ts";
import { MAIN_TS, runDspy } from "../support/cli.ts";
import { assert, assertEquals, withWorkspace } from "./helpers.ts";

Deno.test("bus publish / consume through the CLI, across processes", async () => {
  await withWorkspace(async (dir) => {
    const file = join(dir, "msgs.jsonl");
    await Deno.writeTextFile(file, '{"n":1}\n\n{"n":2}\n"three"\n');
    let r = await runDspy(["--workspace", dir, "bus", "publish", "jobs", "--durable", "--file", file]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.trim(), "published 3 messages to jobs");
    r = await runDspy(["--workspace", dir, "bus", "publish", "jobs", "--key", "k9", '{"n":4}', "--json"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).durable, true, "the durable setting is shared through KV");
    r = await runDspy(["--workspace", dir, "bus", "publish", "jobs", "--file", "-"], { stdin: '{"n":5}\n' });
    assertEquals(r.stdout.trim(), "published 1 message to jobs");

    r = await runDspy(["--workspace", dir, "bus", "consume", "jobs", "--group", "g", "--max", "4"]);
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => l.id), ["jobs:1", "jobs:2", "jobs:3", "jobs:4"]);
    assertEquals(lines[2].value, "three");
    assertEquals(lines[3].key, "k9");
    assert(typeof lines[0].ts === "number");
    r = await runDspy(["--workspace", dir, "bus", "consume", "jobs", "--group", "g", "--max", "1"]);
    assertEquals(JSON.parse(r.stdout).value, { n: 5 }, "the group resumes after its committed offset");

    r = await runDspy(["--workspace", dir, "bus", "stats", "--json"]);
    assertEquals(r.code, 0, r.stderr);
    const stats = JSON.parse(r.stdout);
    const jobs = stats.durable.find((t: { topic: string }) => t.topic === "jobs");
    assertEquals(jobs.head, 5);
    assertEquals(jobs.groups.g.committed, 5);
    assertEquals(jobs.groups.g.lag, 0);
    r = await runDspy(["--workspace", dir, "tail", "jobs", "--json"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.trim().split("\n").length, 5, "tail reads the durable topic's log");
  });
});

Deno.test("bus CLI errors are clear", async () => {
  await withWorkspace(async (dir) => {
    let r = await runDspy(["--workspace", dir, "bus", "frobnicate"]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes("unknown subcommand 'frobnicate'"), r.stderr);
    const file = join(dir, "bad.jsonl");
    await Deno.writeTextFile(file, '{"ok":1}\n{oops\n');
    r = await runDspy(["--workspace", dir, "bus", "publish", "t", "--file", file]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("line 2 is not JSON"), r.stderr);
    r = await runDspy(["--workspace", dir, "bus", "publish", "bad topic!", "1"]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes("invalid topic"), r.stderr);
    r = await runDspy(["--workspace", dir, "bus", "publish", "t", "1"]);
    assertEquals(r.code, 0);
    assert(r.stderr.includes("not durable"), "warns that nobody else can receive it");
    r = await runDspy(["--workspace", dir, "dlq", "show", "nope"]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("no dead letter with id nope"), r.stderr);
    r = await runDspy(["--workspace", dir, "dlq", "purge"]);
    assertEquals(r.code, 2);
  });
});

Deno.test("dlq list / show / replay / purge through the CLI", async () => {
  await withWorkspace(async (dir) => {
    // Produce dead letters in this process: a durable topic whose consumer fails, and a full subscriber.
    const bus = await startBus({ workspace: dir, metricsIntervalSec: 0, routeEvents: false });
    await bus.configureTopic("jobs", { durable: true });
    bus.subscribe("fast", { maxsize: 1 });
    await bus.publish("fast", 1);
    await bus.publish("fast", 2);
    const c = bus.consume({
      topic: "jobs",
      group: "g",
      maxRetries: 0,
      handler: () => {
        throw new Error("nope");
      },
    });
    await bus.publish("jobs", { job: 1 });
    while (c.stats.deadLettered < 1) await new Promise((r) => setTimeout(r, 10));
    await c.close();
    await bus.close();
    await closeAllKv();

    let r = await runDspy(["--workspace", dir, "dlq", "list", "--json"]);
    assertEquals(r.code, 0, r.stderr);
    const records = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(records.map((x) => x.topic).sort(), ["fast", "jobs"]);
    const job = records.find((x) => x.topic === "jobs");
    r = await runDspy(["--workspace", dir, "dlq", "list"]);
    assert(
      r.stdout.includes("handler_failed") && r.stdout.includes("backpressure_full:subscriber"),
      r.stdout,
    );
    r = await runDspy(["--workspace", dir, "dlq", "show", job.id]);
    assertEquals(JSON.parse(r.stdout).message, { job: 1 });

    r = await runDspy(["--workspace", dir, "dlq", "replay", "--topic", "fast"]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("not durable"), r.stderr);
    r = await runDspy(["--workspace", dir, "dlq", "replay", job.id]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.trim(), "replayed 1 dead letter");
    r = await runDspy(["--workspace", dir, "bus", "consume", "jobs", "--group", "g", "--max", "1"]);
    assertEquals(JSON.parse(r.stdout).value, { job: 1 }, "the replayed message reaches the group");
    r = await runDspy(["--workspace", dir, "dlq", "purge", "--all"]);
    assertEquals(r.stdout.trim().startsWith("purged 1 dead letter"), true, r.stdout);
    r = await runDspy(["--workspace", dir, "dlq", "list"]);
    assertEquals(r.stdout.trim(), "no dead letters");
    const history = (await Deno.readTextFile(join(dir, ".dspy_reports", "dlq.jsonl"))).trim().split("\n");
    assertEquals(history.length, 2, "dlq.jsonl keeps the history");
  });
});

/** Reads stdout lines of a running child until `enough(lines)` is true. */
async function readLines(
  reader: ReadableStreamDefaultReader<string>,
  lines: string[],
  enough: (lines: string[]) => boolean,
  timeoutMs: number,
): Promise<void> {
  let rest = "";
  const deadline = Date.now() + timeoutMs;
  while (!enough(lines)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${lines.length} lines`);
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    const parts = rest.split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
  }
}

function consumer(dir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN_TS,
      "--workspace",
      dir,
      "bus",
      "consume",
      "crash.t",
      "--group",
      "G",
      "--durable",
    ],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
}

Deno.test("crash: a SIGKILLed group consumer restarts; every id at least once, duplicates only in flight", async () => {
  await withWorkspace(async (dir) => {
    const total = 10_000;
    const file = join(dir, "in.jsonl");
    await Deno.writeTextFile(
      file,
      Array.from({ length: total }, (_, i) => JSON.stringify({ n: i })).join("\n"),
    );
    const pub = await runDspy(["--workspace", dir, "bus", "publish", "crash.t", "--durable", "--file", file]);
    assertEquals(pub.code, 0, pub.stderr);

    const first = consumer(dir);
    const firstLines: string[] = [];
    const r1 = first.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await readLines(r1, firstLines, (l) => l.length >= 3000, 60_000);
    first.kill("SIGKILL");
    await first.status;
    await r1.cancel().catch(() => {});
    const seen1 = firstLines.map((l) => JSON.parse(l).id as string);

    const second = consumer(dir);
    const secondLines: string[] = [];
    const r2 = second.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const all = new Set(seen1);
    await readLines(r2, secondLines, (l) => {
      for (const x of l) all.add(JSON.parse(x).id);
      return all.size >= total;
    }, 90_000);
    second.kill("SIGTERM");
    await second.status;
    await r2.cancel().catch(() => {});

    const seen2 = secondLines.map((l) => JSON.parse(l).id as string);
    for (let i = 1; i <= total; i++) assert(all.has(`crash.t:${i}`), `crash.t:${i} was never printed`);
    // Duplicates are exactly the ids the first run printed after its last committed offset: the second run
    // starts right after that offset and repeats a contiguous range up to where the first one died.
    const seq = (id: string) => Number(id.split(":")[1]);
    const firstMax = Math.max(...seen1.map(seq));
    const resumeAt = seq(seen2[0]);
    assert(
      resumeAt >= 1 && resumeAt <= firstMax + 1,
      `resumed at ${resumeAt}, first run reached ${firstMax}`,
    );
    const dups = seen2.filter((id) => seq(id) <= firstMax);
    assertEquals(dups.length, firstMax - resumeAt + 1);
    // bus consume commits before taking the next batch: at most one batch (--maxsize, default 100) repeats.
    assert(dups.length <= 100, `${dups.length} duplicates: more than were in flight`);
    assertEquals(new Set(seen2).size, seen2.length, "no duplicates within one run");
  });
});

Deno.test("bus bench --json prints one object with every case, measured against the ceiling", async () => {
  await withWorkspace(async (dir) => {
    const r = await runDspy(["--workspace", dir, "bus", "bench", "--quick", "--messages", "50000", "--json"]);
    assertEquals(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    for (
      const name of [
        "ceiling_array_queue",
        "fanout",
        "group",
        "worker_group",
        "durable",
        "slow_consumer_memory",
      ]
    ) {
      assert(name in result, `missing ${name}`);
    }
    assert(result.fanout.deliveries_per_s > 0 && result.ceiling_array_queue.deliveries_per_s > 0);
    assert(result.fanout.ratio_to_ceiling > 0);
    assertEquals(result.durable.committed, result.durable.messages);
    assert(result.slow_consumer_memory.rss_peak_mb >= result.slow_consumer_memory.rss_start_mb);
  });
});

Deno.test("bus consume without a group follows a durable topic published from another process", async () => {
  await withWorkspace(async (dir) => {
    let r = await runDspy(["--workspace", dir, "bus", "publish", "feed", "--durable", '{"old":true}']);
    assertEquals(r.code, 0, r.stderr);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN_TS, "--workspace", dir, "bus", "consume", "feed", "--max", "2"],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("waiting for messages on feed")) {
      const { value, done } = await err.read();
      if (done) break;
      text += value;
    }
    await new Promise((r) => setTimeout(r, 300)); // its reader starts at the log's head
    r = await runDspy(["--workspace", dir, "bus", "publish", "feed", "--file", "-"], {
      stdin: '{"n":1}\n{"n":2}\n',
    });
    assertEquals(r.code, 0, r.stderr);
    const stdout = await new Response(child.stdout).text();
    await err.cancel().catch(() => {});
    const status = await child.status;
    assertEquals(status.code, 0);
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => l.value), [{ n: 1 }, { n: 2 }], "only messages published after it started");
  });
});

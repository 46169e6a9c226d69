/**
 * Bus and DLQ routes with a real LocalBus: `/api/bus` shapes, bus series in `/metrics` (Prometheus and
 * JSON), durable topics other processes wrote to KV, and a dead letter that is listed, replayed to its
 * subscriber, and purged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sampleBus } from "../../server/routes/bus.ts";
import { getJson, parsePrometheus, withServer } from "./helpers.ts";

Deno.test("bus metrics appear in /api/bus, Prometheus and JSON /metrics", async () => {
  await withServer({ withBus: true }, async (s) => {
    const bus = s.bus!;
    const sub = bus.subscribe("jobs.a", { maxsize: 10 });
    const member = bus.subscribeGroup("jobs.a", "workers", { maxsize: 10 });
    for (let i = 0; i < 3; i++) await bus.publish("jobs.a", { i });
    const api = await getJson(`${s.url}/api/bus`);
    assert.equal(api.status, 200);
    assert.equal(api.body.backend, "local");
    assert.equal(api.body.workspace, s.workspace);
    assert.equal(api.body.workspace, s.workspace);
    assert.equal(api.body.totals["jobs.a"].published, 3);
    assert.equal(api.body.totals["jobs.a"].depth, 3);
    assert.ok(api.body.groups["jobs.a"].workers);
    assert.deepEqual(Object.keys(api.body.dlq).sort(), ["by_topic", "last_ts", "total"]);
    const { samples } = parsePrometheus(await (await fetch(`${s.url}/metrics`)).text());
    const find = (name: string, labels: Record<string, string>) =>
      samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    assert.equal(find("dspy_bus_up", {})?.value, 1);
    assert.equal(find("dspy_bus_published_total", { topic: "jobs.a" })?.value, 3);
    assert.equal(find("dspy_bus_queue_depth", { topic: "jobs.a" })?.value, 3);
    assert.ok(find("dspy_bus_group_lag", { topic: "jobs.a", group: "workers" }));
    assert.equal(find("dspy_dlq_records", {})?.value, 0);
    const json = await getJson(`${s.url}/metrics?format=json`);
    assert.equal(json.body.bus.topics["jobs.a"].published, 3);
    assert.equal(json.body.dlq.total, 0);
    sub.close();
    member.close();
  });
});

Deno.test("a dead letter is listed, replayed to its subscriber, and purge removes the rest", async () => {
  await withServer({ withBus: true }, async (s) => {
    const bus = s.bus!;
    const sub = bus.subscribe("jobs.b", { maxsize: 1, overflow: "dlq" });
    await bus.publish("jobs.b", { n: 1 });
    await bus.publish("jobs.b", { n: 2 }); // queue full: dead-lettered
    await bus.publish("jobs.b", { n: 3 }); // dead-lettered too
    await bus.flush();
    const list = await getJson(`${s.url}/api/dlq`);
    assert.equal(list.status, 200);
    assert.equal(list.body.count, 2);
    const rec = list.body.items.find((r: { message: { n: number } }) => r.message.n === 2);
    assert.equal(rec.topic, "jobs.b");
    assert.match(rec.reason, /backpressure/);
    assert.equal((await getJson(`${s.url}/api/dlq?topic=other`)).body.count, 0);
    const status = await getJson(`${s.url}/api/status`);
    assert.equal(status.body.components.bus.status, "warn");
    // Make room, then replay the one record by id: the subscriber receives it again.
    assert.deepEqual((await sub.nextBatch(1))[0].value, { n: 1 });
    const replay = await getJson(`${s.url}/api/dlq/replay`, {
      method: "POST",
      body: JSON.stringify({ ids: [rec.id] }),
    });
    assert.equal(replay.status, 200);
    assert.deepEqual([replay.body.replayed, replay.body.ids], [1, [rec.id]]);
    assert.deepEqual((await sub.nextBatch(1))[0].value, { n: 2 });
    assert.equal((await getJson(`${s.url}/api/dlq`)).body.count, 1);
    // Selectors are validated; an empty id list acts on nothing.
    for (const bad of [{}, { ids: "x" }, { ids: [1] }, { topic: "" }, { topic: 5 }]) {
      const r = await getJson(`${s.url}/api/dlq/purge`, { method: "POST", body: JSON.stringify(bad) });
      assert.equal(r.status, 400, JSON.stringify(bad));
    }
    assert.equal(
      (await getJson(`${s.url}/api/dlq/purge`, { method: "POST", body: '{"ids": []}' })).body.purged,
      0,
    );
    const purge = await getJson(`${s.url}/api/dlq/purge`, { method: "POST", body: '{"topic": "jobs.b"}' });
    assert.equal(purge.body.purged, 1);
    assert.equal((await getJson(`${s.url}/api/dlq`)).body.count, 0);
    sub.close();
  });
});

Deno.test("without a bus the bus routes answer 503 with what to run", async () => {
  await withServer({}, async (s) => {
    for (const path of ["/api/bus", "/api/dlq"]) {
      const r = await getJson(`${s.url}${path}`);
      assert.equal(r.status, 503);
      assert.match(r.body.error, /dspy-code up/);
    }
  });
});

Deno.test("durable topics written by other processes show in /api/bus, /metrics and the lag history", async () => {
  await withServer({ withBus: true }, async (s) => {
    const main = new URL("../../main.ts", import.meta.url).pathname;
    const cli = async (args: string[], stdin?: string) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "--workspace", s.workspace, ...args],
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", BUS_METRICS_INTERVAL: "0" },
      }).spawn();
      if (stdin !== undefined) {
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(stdin));
        await w.close();
      }
      const out = await child.output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    };
    // Another process publishes three messages on a durable topic; a group in a third process takes one.
    await cli(["bus", "publish", "jobs.other", "--durable", "--file", "-"], '{"n":1}\n{"n":2}\n{"n":3}\n');
    await cli(["bus", "consume", "jobs.other", "--group", "g1", "--durable", "--max", "1"]);
    const api = await getJson(`${s.url}/api/bus`);
    assert.equal(api.status, 200);
    assert.equal(api.body.topics["jobs.other"], undefined, "this server's own bus never saw the topic");
    const t = api.body.durable.find((d: { topic: string }) => d.topic === "jobs.other");
    assert.ok(t, JSON.stringify(api.body.durable));
    assert.equal(t.head, 3);
    assert.equal(t.first, 1);
    assert.equal(t.groups.g1.committed, 1);
    assert.equal(t.groups.g1.lag, 2);
    assert.ok(api.body.durable.some((d: { topic: string }) => d.topic === "agent.metrics"));
    const { samples } = parsePrometheus(await (await fetch(`${s.url}/metrics`)).text());
    const find = (name: string, labels: Record<string, string>) =>
      samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    assert.equal(find("dspy_bus_durable_appended_total", { topic: "jobs.other" })?.value, 3);
    assert.equal(find("dspy_bus_durable_stored", { topic: "jobs.other" })?.value, 3);
    assert.equal(find("dspy_bus_durable_group_lag", { topic: "jobs.other", group: "g1" })?.value, 2);
    const json = await getJson(`${s.url}/metrics?format=json`);
    assert.equal(
      json.body.bus.durable.find((d: { topic: string }) => d.topic === "jobs.other").groups.g1.lag,
      2,
    );
    sampleBus(s.state);
    const last = s.state.busHistory.list().at(-1)!;
    assert.equal(last.value.lag["jobs.other/g1"], 2);
  });
});

Deno.test("replay keeps a non-durable dead letter nothing in the server subscribes to, instead of losing it", async () => {
  await withServer({ withBus: true }, async (s) => {
    const bus = s.bus!;
    const sub = bus.subscribe("jobs.gone", { maxsize: 1, overflow: "dlq" });
    await bus.publish("jobs.gone", { n: 1 });
    await bus.publish("jobs.gone", { n: 2 }); // dead-lettered
    await bus.flush();
    sub.close(); // the only consumer is gone
    const replay = await getJson(`${s.url}/api/dlq/replay`, {
      method: "POST",
      body: JSON.stringify({ topic: "jobs.gone" }),
    });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.ok, false);
    assert.equal(replay.body.replayed, 0);
    assert.match(replay.body.failed[0].error, /not durable and has no subscriber/);
    assert.equal((await getJson(`${s.url}/api/dlq`)).body.count, 1, "the record stays in the DLQ");
    assert.equal(bus.metrics().topics["jobs.nobody"], undefined, "asking about a topic does not create it");
    assert.equal(bus.isDurable("jobs.nobody"), false);
    assert.equal(bus.metrics().topics["jobs.nobody"], undefined);
    // With a consumer (here a pattern subscriber) the same record replays.
    const again = bus.subscribe("jobs.*", { maxsize: 10 });
    const ok = await getJson(`${s.url}/api/dlq/replay`, {
      method: "POST",
      body: JSON.stringify({ all: true }),
    });
    assert.equal(ok.body.replayed, 1);
    assert.deepEqual((await again.nextBatch(1))[0].value, { n: 2 });
    again.close();
  });
});

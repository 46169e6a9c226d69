/**
 * Names that become KV key parts are length-checked at the edges (issue #16 item 8): the DLQ routes
 * answer 400 naming the limit for an over-long id or topic, and the CLI's `dlq show` and
 * `bus publish --durable` exit 2 with the limit instead of Deno KV's `Key too large`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_DLQ_ID_BYTES, MAX_TOPIC_BYTES } from "../../bus/mod.ts";
import { getJson, withServer } from "../server/helpers.ts";
import { runDspy } from "../support/cli.ts";

const LONG = "t".repeat(5000);

Deno.test("DLQ routes: over-long ids and topics are 400 naming the limit", async () => {
  await withServer({ withBus: true }, async (s) => {
    for (const route of ["/api/dlq/purge", "/api/dlq/replay"]) {
      const ids = await getJson(`${s.url}${route}`, {
        method: "POST",
        body: JSON.stringify({ ids: [LONG] }),
      });
      assert.equal(ids.status, 400, JSON.stringify(ids.body));
      assert.match(ids.body.error, new RegExp(`at most ${MAX_DLQ_ID_BYTES} bytes`));
      const topic = await getJson(`${s.url}${route}`, {
        method: "POST",
        body: JSON.stringify({ topic: LONG }),
      });
      assert.equal(topic.status, 400, JSON.stringify(topic.body));
      assert.match(topic.body.error, new RegExp(`at most ${MAX_TOPIC_BYTES} bytes`));
      // Multi-byte: 200 characters of 4 bytes each are over the topic limit, too.
      const wide = await getJson(`${s.url}${route}`, {
        method: "POST",
        body: JSON.stringify({ topic: "😀".repeat(200) }),
      });
      assert.equal(wide.status, 400);
    }
    const ok = await getJson(`${s.url}/api/dlq/purge`, {
      method: "POST",
      body: JSON.stringify({ topic: "t".repeat(500) }),
    });
    assert.equal(ok.status, 200);
  });
});

Deno.test("CLI: dlq show and bus publish --durable with 5000-character names exit 2 naming the limit", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_limits_" });
  try {
    const show = await runDspy(["--workspace", ws, "dlq", "show", LONG]);
    assert.equal(show.code, 2, show.stderr);
    assert.match(show.stderr, new RegExp(`at most ${MAX_DLQ_ID_BYTES} bytes`));
    assert.doesNotMatch(show.stderr + show.stdout, /Key too large|\n\s+at /);
    const pub = await runDspy(["--workspace", ws, "bus", "publish", LONG, '{"a":1}', "--durable"]);
    assert.equal(pub.code, 2, pub.stderr);
    assert.match(pub.stderr, new RegExp(`at most ${MAX_TOPIC_BYTES} bytes`));
    assert.doesNotMatch(pub.stderr + pub.stdout, /Key too large|\n\s+at /);
  } finally {
    await Deno.remove(ws, { recursive: true }).catch(() => {});
  }
});

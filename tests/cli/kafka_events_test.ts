import assert from "node:assert/strict";
import { hasKcat, startMockKafka } from "../bus/helpers.ts";
import { MAIN_TS, runDspy, tempWorkspace } from "../support/cli.ts";

Deno.test({
  name: "with Kafka configured, command events are mirrored to Kafka and `tail --kafka` reads them",
  ignore: !hasKcat(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = await startMockKafka();
    const ws = await tempWorkspace();
    try {
      const r = await runDspy(["--workspace", ws, "ls"], {
        env: { KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap },
      });
      assert.equal(r.code, 0, r.stderr);
      // The local KV stream still has every event (it stays the primary store).
      const local = await runDspy(["--workspace", ws, "tail", "--json"]);
      assert.match(local.stdout, /"metric":"tool.end"/);
      const tail = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN_TS,
          "--workspace",
          ws,
          "tail",
          "agent.metrics",
          "--kafka",
          "--bootstrap",
          kafka.bootstrap,
          "--from-beginning",
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = tail.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const deadline = Date.now() + 30_000;
      const timer = setTimeout(() => tail.kill("SIGTERM"), 30_000);
      while (!seen.includes('"tool.end"') && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      clearTimeout(timer);
      tail.kill("SIGTERM");
      await reader.cancel();
      await tail.status;
      await tail.stderr.cancel();
      const events = seen.trim().split("\n").map((l) => JSON.parse(l));
      const end = events.find((e) => e.metric === "tool.end");
      assert.ok(end, `no tool.end from Kafka in: ${seen}`);
      assert.equal(end.data.tool, "ls");
      assert.equal(end.workspace, await Deno.realPath(ws));
      // Nothing was dead-lettered: the broker took every event.
      const dlq = await runDspy(["--workspace", ws, "dlq", "list", "--json"]);
      assert.equal(dlq.stdout.trim(), "", `dead letters: ${dlq.stdout}`);
    } finally {
      await kafka.stop();
      await Deno.remove(ws, { recursive: true });
    }
  },
});

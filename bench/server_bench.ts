/**
 * Status server load benchmark: requests/s and latency for `GET /health` and `GET /metrics` measured with
 * `wrk` against our server (with a running LocalBus and the debug trace on, as `up` runs it) and against a
 * bare `Deno.serve` handler in the same run; then `/health` latency with 200 SSE clients open.
 * Goals: `/health` ≥ 60% of bare; `/health` p99 < 50 ms with 200 SSE clients.
 *
 * The machine is shared and noisy, so bare and server `/health` runs alternate for `--rounds` rounds and the
 * medians are compared.
 *
 * Usage: `deno run -A bench/server_bench.ts [--duration 4] [--rounds 3] [--connections 32] [--json]`
 * Needs `wrk` (Debian: `apt-get install -y wrk`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startBus } from "../bus/mod.ts";
import { closeAllKv } from "../core/kv.ts";
import { fromBus } from "../server/bus_adapter.ts";
import { startServer } from "../server/server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    json: { type: "boolean", default: false },
  },
});
const duration = Math.max(1, Number(values.duration));
const connections = Math.max(1, Number(values.connections));
const rounds = Math.max(1, Number(values.rounds));

/** The run with the median requests/s. */
function median(runs: WrkResult[]): WrkResult {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)];
}

interface WrkResult {
  rps: number;
  /** Server CPU time (this process: user + system) per request in µs: less sensitive to other load. */
  cpu_us: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** CPU time of this process (the servers run here; wrk and the SSE clients run elsewhere) in µs. */
function cpuMicros(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
}

async function wrk(url: string, seconds = duration, conns = connections): Promise<WrkResult> {
  let out;
  const cpu0 = cpuMicros();
  try {
    out = await new Deno.Command("wrk", {
      args: ["-t1", `-c${conns}`, `-d${seconds}s`, "--latency", url],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    console.error("wrk not found: install it with 'apt-get install -y wrk'");
    Deno.exit(1);
  }
  const cpu = cpuMicros() - cpu0;
  const text = new TextDecoder().decode(out.stdout);
  const total = Number(/(\d+) requests in/.exec(text)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(text)?.[1] ?? "");
  const p99 = toMs(/\s99%\s+(\S+)/.exec(text)?.[1] ?? "");
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sock ? sock.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0);
  if (!Number.isFinite(rps)) throw new Error(`could not parse wrk output:\n${text}`);
  return { rps, cpu_us: total > 0 ? cpu / total : NaN, p50_ms: p50, p99_ms: p99, errors };
}

// Baseline: a bare Deno.serve handler answering the same JSON as /health.
const started = Date.now();
const bare = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => Response.json({ status: "ok", version: "0.0.0", uptime_s: (Date.now() - started) / 1000 }),
);
const bareUrl = `http://127.0.0.1:${bare.addr.port}`;

const workspace = await Deno.makeTempDir({ prefix: "dspy_server_bench_" });
const bus = await startBus({ workspace, backend: "local", metricsIntervalSec: 0 });
for (const topic of ["agent.results", "logs.ctx.app", "embeddings.jobs"]) {
  bus.subscribe(topic, { maxsize: 1000 });
  for (let i = 0; i < 50; i++) await bus.publish(topic, { i });
}
const server = await startServer({ workspace, port: 0, bus: fromBus(bus), adminKey: null, probes: {} });

const rows: (WrkResult & { case: string; vs_bare?: number })[] = [];
await wrk(`${bareUrl}/`, 1); // warm-up
await wrk(`${server.url}/health`, 1);
const bareRuns: WrkResult[] = [];
const healthRuns: WrkResult[] = [];
for (let r = 0; r < rounds; r++) {
  bareRuns.push(await wrk(`${bareUrl}/health`));
  healthRuns.push(await wrk(`${server.url}/health`));
}
const bareHealth = median(bareRuns);
const health = median(healthRuns);
rows.push({ case: "bare Deno.serve /health", ...bareHealth });
rows.push({ case: "server /health", ...health, vs_bare: health.rps / bareHealth.rps });
const metrics = await wrk(`${server.url}/metrics`);
rows.push({ case: "server /metrics (Prometheus)", ...metrics, vs_bare: metrics.rps / bareHealth.rps });
const metricsJson = await wrk(`${server.url}/metrics?format=json`);
rows.push({ case: "server /metrics?format=json", ...metricsJson, vs_bare: metricsJson.rps / bareHealth.rps });

// 200 SSE clients open (half events, half trace) in another process, then /health again.
const clientCode = `
const url = Deno.args[0];
const streams = [];
await Promise.all(Array.from({ length: 200 }, async (_, i) => {
  const res = await fetch(url + (i % 2 ? "/api/events/stream" : "/api/debug/trace/stream?replay=0"));
  streams.push(res.body.pipeTo(new WritableStream()).catch(() => {}));
}));
console.log("ready");
for await (const _ of Deno.stdin.readable) { /* until the bench closes stdin */ }
Deno.exit(0);
`;
const clients = new Deno.Command(Deno.execPath(), {
  args: ["eval", clientCode, server.url],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const clientOut = clients.stdout.pipeThrough(new TextDecoderStream()).getReader();
let ready = "";
while (!ready.includes("ready")) {
  const { value, done } = await clientOut.read();
  if (done) throw new Error("the SSE client process ended early");
  ready += value;
}
const openStreams = server.state.sse.open;
const withSse = await wrk(`${server.url}/health`);
rows.push({
  case: `server /health, ${openStreams} SSE open`,
  ...withSse,
  vs_bare: withSse.rps / bareHealth.rps,
});
await clients.stdin.close();
await clients.status;
await clientOut.cancel();

await server.shutdown();
await bus.close();
await bare.shutdown();
await closeAllKv();
await Deno.remove(workspace, { recursive: true });

const goals = {
  health_vs_bare: {
    goal: ">= 0.60",
    value: health.rps / bareHealth.rps,
    ok: health.rps / bareHealth.rps >= 0.6,
  },
  health_cpu_vs_bare: {
    goal: "info",
    value: bareHealth.cpu_us / health.cpu_us,
    ok: true,
  },
  health_p99_with_200_sse_ms: { goal: "< 50", value: withSse.p99_ms, ok: withSse.p99_ms < 50 },
};
if (values.json) {
  console.log(
    JSON.stringify({
      duration_s: duration,
      rounds,
      connections,
      cores: navigator.hardwareConcurrency,
      rows,
      goals,
    }),
  );
} else {
  console.log(
    `wrk -t1 -c${connections} -d${duration}s, /health medians of ${rounds} alternating rounds, ` +
      `${navigator.hardwareConcurrency} cores`,
  );
  const header = ["case", "req/s", "CPU µs/req", "p50 ms", "p99 ms", "errors", "vs bare"];
  const table = rows.map((r) => [
    r.case,
    r.rps.toFixed(0),
    r.cpu_us.toFixed(1),
    r.p50_ms.toFixed(2),
    r.p99_ms.toFixed(2),
    String(r.errors),
    r.vs_bare === undefined ? "1.00" : r.vs_bare.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
  console.log(line(header));
  for (const r of table) console.log(line(r));
  for (const [k, g] of Object.entries(goals)) {
    console.log(
      `${g.goal === "info" ? "info" : g.ok ? "ok  " : "MISS"} ${k}: ${g.value.toFixed(2)} (goal ${g.goal})`,
    );
  }
}

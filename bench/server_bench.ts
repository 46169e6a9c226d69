/**
 * Status server load benchmark (`deno task bench:server [--duration 5] [--rounds 5] [--connections 32]
 * [--json]`). Every figure is against baselines measured in the same run, interleaved:
 *
 * 1. `GET /health` requests/s with `wrk -t2 -c32 -d5s` against (a) a bare `Deno.serve` handler answering
 *    the same JSON, declared without parameters (Deno then skips building the Request: a path no router
 *    can take), (a') the same handler reading its request's path, (b) a minimal Hono app on `Deno.serve`
 *    with that one route (Hono's own cost), and (c) our server exactly as `startServer` builds it (whatever
 *    middleware `server/app.ts` adds, a LocalBus with busy topics, the debug trace on, as `up` runs it),
 *    and (c′) the same server with the debug trace off (the trace's share on the wire). The five alternate,
 *    their order rotating every round, for `--rounds` rounds; the ratios are of the medians. Goal: (c)/(a)
 *    ≥ 0.8, with (c)/(a') beside it, and the median per-round ratio of this process's CPU time per request (bare /
 *    ours), which other jobs on the machine disturb less.
 * 2. Where our per-request time goes: CPU µs per call of each layer of the request path, in this process
 *    (the Hono app with the app's middleware and route, the metrics `observe`, the trace `add`, our whole
 *    handler, and the bare handler), so each layer's share of the whole is visible.
 * 3. `/metrics` (Prometheus and JSON) once each, against the bare median.
 * 4. `/health` with 200 SSE clients open (100 event streams, 100 trace streams, in another process).
 *    Goal: p99 < 50 ms.
 *
 * Needs `wrk` (Debian: `apt-get install -y wrk`); exits 1 saying so when it is missing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Hono } from "hono";
import { startBus } from "../bus/mod.ts";
import { closeAllKv } from "../core/kv.ts";
import { VERSION } from "../core/version.ts";
import { fromBus } from "../server/bus_adapter.ts";
import { startServer } from "../server/server.ts";
import { createApp, createHandler } from "../server/app.ts";
import { BUILTIN_ROUTES } from "../server/routes/mod.ts";
import { cpuSeconds, threadOnCpuMs } from "./proc_cpu.ts";
import { median as medianOf } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
    json: { type: "boolean", default: false },
  },
});
const duration = Math.max(1, Number(values.duration));
const connections = Math.max(1, Number(values.connections));
const threads = Math.max(1, Number(values.threads));
const rounds = Math.max(1, Number(values.rounds));

interface WrkResult {
  rps: number;
  /** Server CPU time (this process: user + system) per request in µs: less sensitive to other load. */
  cpu_us: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

/** The run with the median requests/s (its latency and CPU figures go in the table). */
function medianRun(runs: WrkResult[]): WrkResult {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return { ...sorted[Math.floor(sorted.length / 2)], rps: medianOf(runs.map((r) => r.rps)) };
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** CPU time of this process (the servers run here; wrk and the SSE clients run elsewhere) in µs. */
const cpuMicros = () => cpuSeconds("self") * 1e6;

async function loadavg(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

async function wrk(url: string, seconds = duration): Promise<WrkResult> {
  let out;
  const cpu0 = cpuMicros();
  try {
    out = await new Deno.Command("wrk", {
      args: [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--latency", url],
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

const loadStart = await loadavg();
const startedAt = Date.now();
const healthBody = () => ({
  status: "ok",
  version: VERSION,
  uptime_s: Math.round((Date.now() - startedAt) / 10) / 100,
});

// (a) Baseline: a bare Deno.serve handler answering the same JSON as /health. It takes no arguments, and
// Deno treats a handler declared without parameters specially (`handler.length === 0`): it never builds the
// Request object nor the handler info, and answers through a faster native path. No server that routes by
// path can take that path, so (a') is the same handler reading its request's path, as any router must.
const bareHandler = () => Response.json(healthBody());
const bare = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, bareHandler);
const bareUrl = `http://127.0.0.1:${bare.addr.port}`;
const notFound = () => new Response("not found", { status: 404 });
const routedHandler = (req: Request) => {
  const url = req.url;
  return url.slice(url.indexOf("/", url.indexOf("//") + 2)) === "/health"
    ? Response.json(healthBody())
    : notFound();
};
const routed = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, routedHandler);
const routedUrl = `http://127.0.0.1:${routed.addr.port}`;

// (b) Hono's own cost: a minimal Hono app with the one route.
const minimal = new Hono();
minimal.get("/health", () => Response.json(healthBody()));
const hono = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, minimal.fetch);
const honoUrl = `http://127.0.0.1:${hono.addr.port}`;

// (c) Our server as `up` runs it.
const workspace = await Deno.makeTempDir({ prefix: "dspy_server_bench_" });
const bus = await startBus({ workspace, backend: "local", metricsIntervalSec: 0 });
for (const topic of ["agent.results", "logs.ctx.app", "embeddings.jobs"]) {
  bus.subscribe(topic, { maxsize: 1000 });
  for (let i = 0; i < 50; i++) await bus.publish(topic, { i });
}
const server = await startServer({ workspace, port: 0, bus: fromBus(bus), adminKey: null, probes: {} });
// (c′) The same server with the debug trace off: the trace's share of (c), on the wire.
const untraced = await startServer({
  workspace,
  port: 0,
  bus: fromBus(bus),
  adminKey: null,
  probes: {},
  traceEnabled: false,
});

// ------------------------------------------------------------------------------------------------ 1
const runs = {
  bare: [] as WrkResult[],
  routed: [] as WrkResult[],
  hono: [] as WrkResult[],
  server: [] as WrkResult[],
  untraced: [] as WrkResult[],
};
const cases: [keyof typeof runs, string][] = [
  ["bare", bareUrl],
  ["routed", routedUrl],
  ["hono", honoUrl],
  ["server", server.url],
  ["untraced", untraced.url],
];
for (const [, url] of cases) await wrk(`${url}/health`, 1); // warm-up
for (let r = 0; r < rounds; r++) {
  // The order rotates every round, so no case always runs first (or right after the same other case).
  for (let k = 0; k < cases.length; k++) {
    const [name, url] = cases[(k + r) % cases.length];
    runs[name].push(await wrk(`${url}/health`));
  }
}
const bareMed = medianRun(runs.bare);
const routedMed = medianRun(runs.routed);
const honoMed = medianRun(runs.hono);
const serverMed = medianRun(runs.server);
const untracedMed = medianRun(runs.untraced);
const perRound = runs.server.map((s, i) => s.rps / runs.bare[i].rps);
const perRoundRouted = runs.server.map((s, i) => s.rps / runs.routed[i].rps);
// The same comparison by this process's CPU time per request (bare / ours): steadier than requests/s when
// other jobs take the cores, since it does not count time the server spent waiting for a core.
const cpuRatio = medianOf(runs.server.map((s, i) => runs.bare[i].cpu_us / s.cpu_us));

type Row = WrkResult & { case: string; vs_bare: number };
const rows: Row[] = [
  { case: "(a) bare Deno.serve /health", ...bareMed, vs_bare: 1 },
  { case: "(a') bare handler reading its path", ...routedMed, vs_bare: routedMed.rps / bareMed.rps },
  { case: "(b) minimal Hono app /health", ...honoMed, vs_bare: honoMed.rps / bareMed.rps },
  { case: "(c) our server /health", ...serverMed, vs_bare: serverMed.rps / bareMed.rps },
  { case: "(c′) our server, trace off /health", ...untracedMed, vs_bare: untracedMed.rps / bareMed.rps },
];

// ------------------------------------------------------------------------------------------------ 2
// CPU per call of each layer, in this process: the Hono app with the app's middleware and its route
// (built by createApp exactly as startServer does), the per-request metrics and trace work, and the whole
// handler. The state is a second one over the same workspace, so the running server is not disturbed.
const cpuNow = () => threadOnCpuMs() * 1000; // µs
/**
 * CPU µs per call of `fn` over `ms` of wall time, yielding to the event loop every 5,000 calls so timers
 * (the trace's batched writes) run as they would under real traffic; on-CPU time of this thread only
 * (schedstat), so time spent waiting for a core does not count.
 */
async function perCall(fn: () => unknown, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const c0 = cpuNow();
  while (performance.now() - t0 < ms) {
    for (let k = 0; k < 5000; k++) fn();
    n += 5000;
    await new Promise((r) => setTimeout(r, 1));
  }
  return (cpuNow() - c0) / n;
}
const healthReq = new Request(`${server.url}/health`);
const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;
const state = server.state;
const app = createApp(state, BUILTIN_ROUTES);
const handler = createHandler(state, app);
// The layers must measure the path a real /health request takes, not a refusal.
const probe = handler(healthReq, info);
if ((probe instanceof Promise ? await probe : probe).status !== 200) {
  throw new Error(
    "the in-process /health request was refused: the layer figures would measure the wrong path",
  );
}
const layerFns: [string, () => unknown][] = [
  ["bare handler: Response.json", bareHandler],
  ["minimal Hono app.fetch", () => minimal.fetch(healthReq)],
  ["our Hono app.fetch (app.ts middleware + route)", () => app.fetch(healthReq, {})],
  ["browser guard check()", () => state.browser.check(healthReq)],
  ["metrics observe()", () => state.http.observe("/health", "GET", 200, 0.0002)],
  ["trace add() (buffered line)", () => state.trace.add(Date.now() / 1000, "GET", "/health", 200, 0.123)],
  ["our whole handler (createHandler)", () => handler(healthReq, info)],
];
// Interleaved rounds, median per layer: the machine is shared, so one long run per layer would compare
// layers measured under different load.
const samples = layerFns.map(() => [] as number[]);
for (const [, fn] of layerFns) for (let i = 0; i < 5000; i++) fn(); // warm-up
for (let round = 0; round < 7; round++) {
  for (const [k, [, fn]] of layerFns.entries()) samples[k].push(await perCall(fn, 150));
}
const layers = layerFns.map(([layer], k) => ({ layer, us_per_call: medianOf(samples[k]) }));
await state.trace.flush();
const whole = layers[layers.length - 1].us_per_call;

// ------------------------------------------------------------------------------------------------ 3
const metrics = await wrk(`${server.url}/metrics`);
rows.push({ case: "our server /metrics (Prometheus)", ...metrics, vs_bare: metrics.rps / bareMed.rps });
const metricsJson = await wrk(`${server.url}/metrics?format=json`);
rows.push({
  case: "our server /metrics?format=json",
  ...metricsJson,
  vs_bare: metricsJson.rps / bareMed.rps,
});

// ------------------------------------------------------------------------------------------------ 4
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
  case: `our server /health, ${openStreams} SSE open`,
  ...withSse,
  vs_bare: withSse.rps / bareMed.rps,
});
await clients.stdin.close();
await clients.status;
await clientOut.cancel();

await server.shutdown();
await untraced.shutdown();
await bus.close();
await bare.shutdown();
await routed.shutdown();
await hono.shutdown();
await closeAllKv();
await Deno.remove(workspace, { recursive: true });
const loadEnd = await loadavg();

const ratio = serverMed.rps / bareMed.rps;
const ratioRouted = serverMed.rps / routedMed.rps;
const goals = {
  health_vs_bare: { goal: ">= 0.80", value: ratio, ok: ratio >= 0.8 },
  health_vs_bare_reading_its_path: { goal: ">= 0.80", value: ratioRouted, ok: ratioRouted >= 0.8 },
  health_cpu_per_request_bare_over_ours: { goal: "info", value: cpuRatio, ok: true },
  health_p99_with_200_sse_ms: { goal: "< 50", value: withSse.p99_ms, ok: withSse.p99_ms < 50 },
};
if (values.json) {
  console.log(JSON.stringify({
    wrk: { threads, connections, duration_s: duration },
    rounds,
    cores: navigator.hardwareConcurrency,
    loadavg: { start: loadStart, end: loadEnd },
    rows,
    per_round_server_vs_bare: perRound.map((x) => Number(x.toFixed(3))),
    per_round_server_vs_routed: perRoundRouted.map((x) => Number(x.toFixed(3))),
    layers: layers.map((l) => ({ ...l, share_of_handler: l.us_per_call / whole })),
    goals,
  }));
} else {
  const print = (header: string[], table: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
    console.log(line(header));
    for (const r of table) console.log(line(r));
  };
  console.log(
    `wrk -t${threads} -c${connections} -d${duration}s; /health: medians of ${rounds} interleaved rounds ` +
      `(a, a', b, c, c′, order rotating); ${navigator.hardwareConcurrency} cores, load average ${loadStart} at the start, ${loadEnd} at the end`,
  );
  print(
    ["case", "req/s", "CPU µs/req", "p50 ms", "p99 ms", "errors", "vs bare"],
    rows.map((r) => [
      r.case,
      r.rps.toFixed(0),
      r.cpu_us.toFixed(1),
      r.p50_ms.toFixed(2),
      r.p99_ms.toFixed(2),
      String(r.errors),
      r.vs_bare.toFixed(2),
    ]),
  );
  console.log(`per-round (c)/(a): ${perRound.map((x) => x.toFixed(2)).join(", ")}`);
  console.log(`per-round (c)/(a'): ${perRoundRouted.map((x) => x.toFixed(2)).join(", ")}`);
  console.log("\nCPU per call of each layer of our /health path, in-process (share of our whole handler):");
  print(
    ["layer", "µs/call", "share"],
    layers.map((l) => [l.layer, l.us_per_call.toFixed(2), `${((100 * l.us_per_call) / whole).toFixed(0)}%`]),
  );
  for (const [k, g] of Object.entries(goals)) {
    const mark = g.goal === "info" ? "info" : g.ok ? "ok  " : "MISS";
    console.log(`${mark} ${k}: ${g.value.toFixed(2)}${g.goal === "info" ? "" : ` (goal ${g.goal})`}`);
  }
}

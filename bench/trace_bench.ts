/**
 * What the status server's debug trace (`server/trace.ts`) costs per request, with its file on and off,
 * interleaved in one run (the file-off trace still keeps the ring of recent records for resuming streams):
 *
 * 1. main-thread CPU per `add()` in a tight loop that yields to the event loop every 5,000 records, so the
 *    batched formatting and flushes run as under traffic (on-CPU time of this thread, schedstat);
 * 2. CPU of the whole process (every thread, so the writes in Deno's blocking threads and the kernel count)
 *    per record while records arrive at `--rate` a second (default 32,000, about what wrk drives `/health` to
 *    on 2 cores) for `--seconds`.
 *
 * Usage: `deno run -A bench/trace_bench.ts [--rounds 5] [--rate 32000] [--seconds 3]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { TraceLog } from "../server/trace.ts";
import { processOnCpuMs, threadOnCpuMs } from "./proc_cpu.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    rate: { type: "string", default: "32000" },
    seconds: { type: "string", default: "3" },
  },
});
const rounds = Math.max(1, Number(values.rounds));
const rate = Math.max(1000, Number(values.rate));
const seconds = Math.max(1, Number(values.seconds));

const paths = ["/health", "/health", "/health", "/metrics", "/api/events/stream"];
const add = (trace: TraceLog, k: number) =>
  trace.add(Date.now() / 1000, "GET", paths[k % paths.length], 200, (k % 977) / 1000);

/** Main-thread µs per add over about `ms` of wall time. */
async function tightLoop(trace: TraceLog, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const c0 = threadOnCpuMs();
  while (performance.now() - t0 < ms) {
    for (let k = 0; k < 5000; k++) add(trace, n + k);
    n += 5000;
    await new Promise((r) => setTimeout(r, 1));
  }
  return ((threadOnCpuMs() - c0) * 1000) / n;
}

/** Whole-process µs per record at `rate` records a second. */
async function paced(trace: TraceLog): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const c0 = processOnCpuMs();
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; n < due; n++) add(trace, n);
    await new Promise((r) => setTimeout(r, 1));
  }
  await trace.flush();
  return ((processOnCpuMs() - c0) * 1000) / n;
}

const dir = await Deno.makeTempDir({ prefix: "dspy_trace_bench_" });
const on = new TraceLog({ dir: join(dir, "on", ".dspy_reports") });
const off = new TraceLog({ dir: join(dir, "off", ".dspy_reports"), enabled: false });
const loadStart = Deno.loadavg()[0];
const r = {
  loopOn: [] as number[],
  loopOff: [] as number[],
  pacedOn: [] as number[],
  pacedOff: [] as number[],
};
try {
  await tightLoop(on, 100); // warm-up
  await tightLoop(off, 100);
  for (let i = 0; i < rounds; i++) {
    r.loopOn.push(await tightLoop(on, 300));
    r.loopOff.push(await tightLoop(off, 300));
    r.pacedOn.push(await paced(on));
    r.pacedOff.push(await paced(off));
  }
} finally {
  await on.close();
  await off.close();
  await Deno.remove(dir, { recursive: true });
}
const f = (x: number[]) => median(x).toFixed(3);
console.log(
  `trace add(), medians of ${rounds} interleaved rounds; load ${loadStart.toFixed(1)} → ${
    Deno.loadavg()[0].toFixed(1)
  }`,
);
console.log(`main thread, tight loop:           file on ${f(r.loopOn)} µs, off ${f(r.loopOff)} µs a record`);
console.log(
  `whole process at ${rate}/s:        file on ${f(r.pacedOn)} µs, off ${f(r.pacedOff)} µs a record`,
);

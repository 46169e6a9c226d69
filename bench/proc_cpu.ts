/**
 * CPU time from `/proc` (Linux), for benchmarks that report work per CPU-second or per thread: clock-tick
 * totals from `stat` (10 ms resolution, fine for runs of seconds) and on-CPU time from `schedstat`
 * (nanoseconds, for per-call costs).
 *
 * @module
 */

/** utime + stime of a `/proc/.../stat` file, in seconds (clock ticks of 1/100 s). */
function statSeconds(path: string): number {
  const stat = Deno.readTextFileSync(path);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of a process, every thread together (`"self"`: this one). */
export function cpuSeconds(pid: number | "self"): number {
  return statSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of each live thread of this process, by thread id (a thread that ends meanwhile is left out). */
export function threadSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      out.set(t.name, statSeconds(`/proc/self/task/${t.name}/stat`));
    } catch { /* the thread ended */ }
  }
  return out;
}

/**
 * CPU seconds of this process's main thread alone (`/proc/self/task/<pid>`): the JavaScript thread. Worker
 * threads, V8's helper threads and the SQLite thread are not in it.
 */
export function mainThreadSeconds(): number {
  return statSeconds(`/proc/self/task/${Deno.pid}/stat`);
}

/** A run's rate and its CPU per item: on the main thread, and for the whole process (every thread). */
export interface TimedRate {
  perSec: number;
  mainUs: number;
  processUs: number;
}

/** Times `run`, which returns how many items it handled. */
export async function timedRate(run: () => Promise<number>): Promise<TimedRate & { count: number }> {
  const t0 = performance.now();
  const main0 = mainThreadSeconds();
  const all0 = cpuSeconds("self");
  const count = await run();
  return {
    count,
    perSec: count / ((performance.now() - t0) / 1000),
    mainUs: ((mainThreadSeconds() - main0) / count) * 1e6,
    processUs: ((cpuSeconds("self") - all0) / count) * 1e6,
  };
}

/** On-CPU nanoseconds of a `schedstat` file (time spent waiting for a core does not count). */
function schedstatNs(path: string): number {
  return Number(Deno.readTextFileSync(path).split(" ")[0]);
}

/** On-CPU milliseconds of the calling thread, in nanosecond resolution (`/proc/thread-self/schedstat`). */
export function threadOnCpuMs(): number {
  return schedstatNs("/proc/thread-self/schedstat") / 1e6;
}

/** On-CPU milliseconds of every live thread of this process. */
export function processOnCpuMs(): number {
  let ns = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      ns += schedstatNs(`/proc/self/task/${t.name}/schedstat`);
    } catch { /* the thread ended */ }
  }
  return ns / 1e6;
}

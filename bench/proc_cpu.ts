/**
 * CPU time from `/proc` (Linux), for benchmarks that report work per CPU-second or per thread.
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

/**
 * CPU seconds of this process's main thread alone (`/proc/self/task/<pid>`): the JavaScript thread. Worker
 * threads, V8's helper threads and the SQLite thread are not in it.
 */
export function mainThreadSeconds(): number {
  return statSeconds(`/proc/self/task/${Deno.pid}/stat`);
}
